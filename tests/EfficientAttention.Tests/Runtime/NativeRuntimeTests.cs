using System.Runtime.InteropServices;
using EfficientAttention;
using EfficientAttention.Build;

namespace EfficientAttention.Tests;

/// <summary>The build's ELF patch (build/ElfVersionNeed.cs) and the library's native-load diagnosis.</summary>
public class NativeRuntimeTests
{
    private const string Version = TorchRuntime.RequiredGlibcxx;

    /// <summary>The shim this test process runs with (patched by the build where the host needs it).</summary>
    private static string OutputShim()
    {
        TorchRuntime.EnsureLoaded();
        var name = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "LibTorchSharp.dll" :
                   RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
        var path = Directory.EnumerateFiles(AppContext.BaseDirectory, name, SearchOption.AllDirectories).FirstOrDefault();
        Assert.True(path is not null, $"no {name} under {AppContext.BaseDirectory}");
        return path!;
    }

    private static bool LinuxShim => RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

    [Fact]
    public void TorchSharp_really_executes_here()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Equal(10.0, arange(5, dtype: ScalarType.Float64).sum().item<double>());
        Assert.Equal(new long[] { 2, 3 }, matmul(ones(2, 4), ones(4, 3)).shape);          // a libtorch kernel, not only a constructor
    }

    [Fact]
    public void Weaken_sets_only_the_weak_bit_of_the_GLIBCXX_need_and_is_idempotent()
    {
        if (!LinuxShim) { Assert.Null(ElfVersionNeed.FlagOffsets(File.ReadAllBytes(OutputShim()), Version)); return; } // PE / Mach-O: not ELF
        var shipped = File.ReadAllBytes(OutputShim());
        var offsets = ElfVersionNeed.FlagOffsets(shipped, Version)!;
        Assert.NotEmpty(offsets);                                                    // TorchSharp 0.107's shim needs it

        var original = (byte[])shipped.Clone();
        foreach (var o in offsets) original[o] &= unchecked((byte)~ElfVersionNeed.VerFlagWeak); // as shipped in the package
        var patched = (byte[])original.Clone();
        Assert.Equal(ElfVersionNeed.Result.Weakened, ElfVersionNeed.Weaken(patched, Version));
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        Assert.Equal(offsets.Select(o => (int)o), changed);                          // one byte per need, nothing else
        Assert.All(changed, i => Assert.Equal(original[i] | ElfVersionNeed.VerFlagWeak, patched[i]));

        var again = (byte[])patched.Clone();
        Assert.Equal(ElfVersionNeed.Result.AlreadyWeak, ElfVersionNeed.Weaken(again, Version));
        Assert.Equal(patched, again);
        Assert.Equal(ElfVersionNeed.Result.VersionNotNeeded, ElfVersionNeed.Weaken((byte[])original.Clone(), "GLIBCXX_9.9.99"));
        Assert.Equal(ElfVersionNeed.Result.NotElf64, ElfVersionNeed.Weaken("not an ELF file at all, just text......................................"u8.ToArray(), Version));
    }

    [Fact]
    public void WeakenFile_replaces_a_hard_link_instead_of_writing_through_it()
    {
        if (!LinuxShim) return;                                                       // ELF files exist on Linux only
        var dir = Directory.CreateTempSubdirectory("elf-test").FullName;
        try
        {
            var bytes = File.ReadAllBytes(OutputShim());
            foreach (var o in ElfVersionNeed.FlagOffsets(bytes, Version)!) bytes[o] &= unchecked((byte)~ElfVersionNeed.VerFlagWeak);
            string cache = Path.Combine(dir, "cache.so"), output = Path.Combine(dir, "output.so");
            File.WriteAllBytes(cache, bytes);
            Assert.Equal(0, link(cache, output));                                     // output is a hard link to the "NuGet cache" file
            var stamp = File.GetLastWriteTimeUtc(output);

            Assert.Equal(ElfVersionNeed.Result.Weakened, ElfVersionNeed.WeakenFile(output, Version));
            Assert.Equal(bytes, File.ReadAllBytes(cache));                           // the cache copy is untouched
            Assert.Equal(ElfVersionNeed.Result.AlreadyWeak, ElfVersionNeed.Weaken(File.ReadAllBytes(output), Version));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(output));                   // incremental builds will not re-copy
            Assert.Equal(ElfVersionNeed.Result.AlreadyWeak, ElfVersionNeed.WeakenFile(output, Version));
            Assert.False(File.Exists(output + ".weaken.tmp"), "temporary file left behind");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void The_build_patched_this_output_exactly_when_the_host_lacks_the_version()
    {
        if (!LinuxShim) return;
        var result = ElfVersionNeed.Weaken(File.ReadAllBytes(OutputShim()), Version);
        bool hostHasIt = ElfVersionNeed.HostProvides(Version, null, out var lib);
        Assert.Equal(hostHasIt ? ElfVersionNeed.Result.Weakened : ElfVersionNeed.Result.AlreadyWeak, result);
        Assert.True(lib is not null, "no libstdc++.so.6 found on a Linux host");
    }

    [Fact]
    public void Loading_an_unpatched_shim_on_a_host_without_the_version_gives_the_explained_error()
    {
        if (!LinuxShim) return;
        var dir = Directory.CreateTempSubdirectory("shim-test").FullName;
        try
        {
            var bytes = File.ReadAllBytes(OutputShim());
            foreach (var o in ElfVersionNeed.FlagOffsets(bytes, Version)!) bytes[o] &= unchecked((byte)~ElfVersionNeed.VerFlagWeak);
            var unpatched = Path.Combine(dir, "libLibTorchSharp.so");
            File.WriteAllBytes(unpatched, bytes);
            var error = TorchRuntime.TryLoad(unpatched);
            if (ElfVersionNeed.HostProvides(Version, null, out _))
            {
                Assert.Null(error);                                                   // e.g. Ubuntu 24.04: loads as shipped
                return;
            }
            Assert.NotNull(error);
            Assert.Contains(Version, error);
            var message = TorchRuntime.Explain(error!, [unpatched]);
            Assert.Contains($"lacks the symbol\nversion {Version}".Replace("\n", Environment.NewLine), message);
            Assert.Contains(unpatched, message);
            Assert.Contains("dotnet build", message);
            Assert.Contains("Ubuntu 24.04", message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Other_load_failures_name_the_libtorch_package()
    {
        var message = TorchRuntime.Explain("libtorch.so: cannot open shared object file: No such file or directory", []);
        Assert.Contains("libtorch.so: cannot open shared object file", message);
        Assert.Contains("libtorch-cpu-", message);
        Assert.Contains("#r \"nuget: TorchSharp-cpu, 0.107.0\"", message);
        Assert.DoesNotContain("GLIBCXX_3.4.32 that", message);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int link(string existing, string newPath);
}
