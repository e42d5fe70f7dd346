// Compiled twice: by MSBuild's RoslynCodeTaskFactory (build/TorchSharpGlibcxx.targets) as the task that patches the
// build output, and by the test project (with ELF_VERSION_NEED_TESTS defined) to test the byte-level logic.
#nullable enable
using System;
using System.IO;
using System.Text;
#if !ELF_VERSION_NEED_TESTS
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

namespace EfficientAttention.Build
{
    /// <summary>
    /// Marks one symbol-version requirement (an <c>Elf64_Vernaux</c> entry of <c>.gnu.version_r</c>) as
    /// <c>VER_FLG_WEAK</c>, so the dynamic loader accepts a library whose host lacks that version.
    /// TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13) only for the never-called
    /// <c>std::ios_base_library_init</c>; Debian 12's libstdc++ stops at GLIBCXX_3.4.30.
    /// </summary>
    public static class ElfVersionNeed
    {
        public const byte VerFlagWeak = 0x2;          // VER_FLG_WEAK in <elf.h>
        private const uint ShtGnuVerneed = 0x6ffffffe; // SHT_GNU_verneed

        /// <summary>Outcome of <see cref="Weaken"/>.</summary>
        public enum Result { NotElf64, VersionNotNeeded, AlreadyWeak, Weakened }

        /// <summary>Sets VER_FLG_WEAK on every need for <paramref name="versionName"/> in <paramref name="elf"/>, in place.</summary>
        public static Result Weaken(byte[] elf, string versionName)
        {
            var flags = FlagOffsets(elf, versionName);
            if (flags is null) return Result.NotElf64;
            if (flags.Count == 0) return Result.VersionNotNeeded;
            bool changed = false;
            foreach (var offset in flags)
                if ((elf[offset] & VerFlagWeak) == 0) { elf[offset] |= VerFlagWeak; changed = true; }
            return changed ? Result.Weakened : Result.AlreadyWeak;
        }

        /// <summary>
        /// File offsets of the <c>vna_flags</c> field (2 bytes, little endian; the weak bit is in the first) of every
        /// version need named <paramref name="versionName"/>; null when the bytes are not a little-endian ELF64 file.
        /// </summary>
        public static System.Collections.Generic.List<long>? FlagOffsets(byte[] elf, string versionName)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
                || elf[4] != 2 /* ELFCLASS64 */ || elf[5] != 1 /* little endian */)
                return null;

            int U16(long o) => BitConverter.ToUInt16(elf, checked((int)o));
            long U32(long o) => BitConverter.ToUInt32(elf, checked((int)o));
            long U64(long o) => checked((long)BitConverter.ToUInt64(elf, checked((int)o)));
            string Str(long o) { int e = checked((int)o); while (elf[e] != 0) e++; return Encoding.ASCII.GetString(elf, (int)o, e - (int)o); }

            var offsets = new System.Collections.Generic.List<long>();
            long shoff = U64(0x28); int shentsize = U16(0x3A), shnum = U16(0x3C);
            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;                      // Elf64_Shdr
                if (U32(sh + 4) != ShtGnuVerneed) continue;                  // sh_type
                long dynstr = U64(shoff + U32(sh + 0x28) * shentsize + 0x18); // sh_link → .dynstr, its sh_offset
                long vn = U64(sh + 0x18);                                    // sh_offset of .gnu.version_r
                for (long n = U32(sh + 0x2C); n > 0; n--)                    // sh_info = number of Elf64_Verneed
                {
                    long vna = vn + U32(vn + 8);                             // vn_aux
                    for (int j = U16(vn + 2); j > 0; j--)                    // vn_cnt
                    {
                        if (Str(dynstr + U32(vna + 8)) == versionName)       // vna_name
                            offsets.Add(vna + 4);                            // vna_flags
                        vna += U32(vna + 12);                                // vna_next
                    }
                    vn += U32(vn + 12);                                      // vn_next
                }
            }
            return offsets;
        }

        /// <summary>True when the host's libstdc++ (first of the usual locations that exists) defines <paramref name="versionName"/>.</summary>
        public static bool HostProvides(string versionName, string? libStdCxx, out string? checkedPath)
        {
            checkedPath = libStdCxx;
            if (string.IsNullOrEmpty(checkedPath))
            {
                checkedPath = null;
                foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib" })
                    if (File.Exists(Path.Combine(dir, "libstdc++.so.6"))) { checkedPath = Path.Combine(dir, "libstdc++.so.6"); break; }
            }
            if (checkedPath is null || !File.Exists(checkedPath)) return true; // nothing to compare with: leave the library alone
            return Encoding.ASCII.GetString(File.ReadAllBytes(checkedPath)).Contains(versionName);
        }

        /// <summary>
        /// Patches the file at <paramref name="path"/>: the new bytes go to a temporary file that is then renamed over it,
        /// so a hard link into the NuGet cache is replaced, never written through, and no half-written file is left.
        /// The modification time is kept, so an incremental build does not copy the original back over it.
        /// </summary>
        public static Result WeakenFile(string path, string versionName)
        {
            byte[] bytes = File.ReadAllBytes(path);
            var result = Weaken(bytes, versionName);
            if (result != Result.Weakened) return result;
            var stamp = File.GetLastWriteTimeUtc(path);
            string tmp = path + ".weaken.tmp";
            File.Copy(path, tmp, overwrite: true);   // keeps the mode bits
            File.WriteAllBytes(tmp, bytes);
            File.Replace(tmp, path, null);
            File.SetLastWriteTimeUtc(path, stamp);
            return result;
        }
    }

#if !ELF_VERSION_NEED_TESTS
    /// <summary>MSBuild task over <see cref="ElfVersionNeed"/>: runs only when the host libstdc++ lacks the version.</summary>
    public sealed class WeakenElfVersionNeed : Task
    {
        [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
        [Required] public string VersionName { get; set; } = "";
        public string HostLibStdCxx { get; set; } = "";

        public override bool Execute()
        {
            if (ElfVersionNeed.HostProvides(VersionName, HostLibStdCxx, out var lib))
            {
                Log.LogMessage(MessageImportance.Low, $"WeakenElfVersionNeed: {lib ?? "no libstdc++ found"} provides {VersionName} (or cannot be read); nothing to do");
                return true;
            }
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                if (!File.Exists(path)) continue;
                var result = ElfVersionNeed.WeakenFile(path, VersionName);
                if (result == ElfVersionNeed.Result.NotElf64)
                    Log.LogWarning($"WeakenElfVersionNeed: {path} is not a little-endian ELF64 file; left as it is");
                else
                    Log.LogMessage(result == ElfVersionNeed.Result.Weakened ? MessageImportance.High : MessageImportance.Low,
                        $"WeakenElfVersionNeed: {path}: {result} ({VersionName}, host {lib})");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
