using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace EfficientAttention;

/// <summary>
/// Loads TorchSharp's native backend once, and turns a failed load into an error that says what is missing and how
/// to fix it (instead of TorchSharp's "doesn't contain a reference to libtorch-cpu-…" or a bare DllNotFoundException).
/// Every public entry point of the library calls <see cref="EnsureLoaded"/>; a notebook calls it in its first cell.
/// </summary>
public static class TorchRuntime
{
    /// <summary>The symbol version TorchSharp 0.107's shim asks of libstdc++ (GCC 13); Debian 12 stops at GLIBCXX_3.4.30.</summary>
    public const string RequiredGlibcxx = "GLIBCXX_3.4.32";

    private static readonly object gate = new();
    private static bool loaded;

    /// <summary>The shim file this process loaded ahead of TorchSharp, if it needed to (see <see cref="EnsureLoaded"/>).</summary>
    public static string? PreloadedShim { get; private set; }

    /// <summary>
    /// Makes sure libtorch and TorchSharp's native shim are loaded. On Linux, when TorchSharp cannot load the shim by
    /// itself (it was loaded from the NuGet cache by a notebook, whose copy is not patched), the patched copy that the
    /// build put beside EfficientAttention.dll is loaded first by full path; TorchSharp's own load then finds it.
    /// </summary>
    /// <exception cref="TorchRuntimeException">The native backend cannot be loaded; the message says why and what to do.</exception>
    public static void EnsureLoaded()
    {
        if (Volatile.Read(ref loaded)) return;
        lock (gate)
        {
            if (loaded) return;
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !CanLoadShimByName())
            {
                var candidates = ShimCandidates().Where(File.Exists).Distinct().ToList();
                string? error = null;
                foreach (var path in candidates)
                {
                    error = TryLoad(path);
                    if (error is null) { PreloadedShim = path; break; }
                }
                // Every copy on disk lacks a libstdc++ version: stop here, before TorchSharp's fallback copies ~500 MB of
                // libtorch only to fail the same way. (Other failures, e.g. libtorch in another package folder, are left
                // to TorchSharp's own fallback, which gathers the packages' native files into one folder.)
                if (PreloadedShim is null && error is not null && error.Contains("GLIBCXX_", StringComparison.Ordinal))
                    throw new TorchRuntimeException(Explain(error!, candidates));
            }
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e)
            {
                throw new TorchRuntimeException(Explain(Flatten(e), ShimCandidates().Where(File.Exists).ToList()), e);
            }
            Volatile.Write(ref loaded, true);
        }
    }

    /// <summary>
    /// The message for a failed load: names the missing piece (a libstdc++ symbol version, libtorch, or the shim) and the fixes.
    /// </summary>
    public static string Explain(string loaderError, IReadOnlyCollection<string> shimsTried)
    {
        var tried = shimsTried.Count == 0 ? "  (no libLibTorchSharp file was found beside EfficientAttention.dll or TorchSharp.dll)"
                                          : string.Join(Environment.NewLine, shimsTried.Select(s => "  " + s));
        if (loaderError.Contains("GLIBCXX_", StringComparison.Ordinal))
            return $"""
                TorchSharp's native shim (libLibTorchSharp.so) cannot be loaded: this system's libstdc++ lacks the symbol
                version {RequiredGlibcxx} that TorchSharp 0.107 asks for (Debian 12 and Ubuntu 22.04 stop at GLIBCXX_3.4.30).
                Loader said: {loaderError.Trim()}
                Shim files tried:
                {tried}
                Fix, any one of:
                  1. Build with `dotnet build` (or `dotnet test` / `dotnet run`) from this repository: the build marks that
                     version need weak in its output copy of the shim (build/TorchSharpGlibcxx.targets), and this library
                     loads that copy. In a notebook, reference the built EfficientAttention.dll, not only the NuGet package.
                  2. Use a distribution whose libstdc++ is from GCC 13 or newer (Ubuntu 24.04, the repository's devcontainer).
                  3. Install a newer libstdc++6 (e.g. from a backports repository).
                """;
        return $"""
            TorchSharp's native backend (libtorch {torch.__version__} for CPU) cannot be loaded.
            Loader said: {loaderError.Trim()}
            Shim files tried:
            {tried}
            Fix: build the project with `dotnet build` so that the package libtorch-cpu-<platform> (linux-x64, win-x64 or
            osx-arm64) is restored and copied beside the library; in a notebook add
            #r "nuget: TorchSharp-cpu, 0.107.0" before referencing EfficientAttention.dll. Other platforms have no libtorch 2.10 CPU package.
            """;
    }

    private static string ShimFileName =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "LibTorchSharp.dll" :
        RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";

    /// <summary>Shim copies beside this library and beside TorchSharp.dll (also the NuGet package layout), patched ones first.</summary>
    internal static IEnumerable<string> ShimCandidates()
    {
        string rid = RuntimeInformation.RuntimeIdentifier.StartsWith("linux", StringComparison.Ordinal) ? "linux-x64" : RuntimeInformation.RuntimeIdentifier;
        foreach (var assembly in new[] { typeof(TorchRuntime).Assembly, typeof(torch).Assembly })
        {
            var dir = Path.GetDirectoryName(assembly.Location);
            if (string.IsNullOrEmpty(dir)) continue;
            yield return Path.Combine(dir, ShimFileName);
            yield return Path.Combine(dir, "runtimes", rid, "native", ShimFileName);
            yield return Path.GetFullPath(Path.Combine(dir, "..", "..", "runtimes", rid, "native", ShimFileName)); // …/torchsharp/0.107.0/lib/net8.0
        }
    }

    private static bool CanLoadShimByName()
    {
        try { return NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out _); }
        catch (Exception) { return false; }
    }

    /// <summary>Loads a native library by full path; null on success, else the loader's message (dlerror on Linux).</summary>
    internal static string? TryLoad(string path)
    {
        try { NativeLibrary.Load(path); return null; }
        catch (DllNotFoundException e) { return e.Message; }
        catch (BadImageFormatException e) { return e.Message; }
    }

    private static string Flatten(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
            parts.Add(x is TargetInvocationException ? "" : x.Message);
        return string.Join(" → ", parts.Where(p => p.Length > 0));
    }
}

/// <summary>TorchSharp's native backend cannot be loaded; the message says what is missing and how to fix it.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);
