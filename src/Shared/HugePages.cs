using System.Diagnostics;

namespace EfficientAttention.Shared;

/// <summary>
/// Runs a program (the benchmark suite, the notebook runner, Retrain) with glibc's malloc backing large blocks by transparent huge pages (<c>GLIBC_TUNABLES=
/// glibc.malloc.hugetlb=1</c>, glibc ≥ 2.35). libtorch allocates every tensor with malloc, and blocks over 32 MiB (one
/// B × H × L × L float32 score matrix from L ≈ 1500) are fresh <c>mmap</c>s, page-faulted in 4 KiB at a time on each call:
/// on the development machine that made naive attention at L = 2048 five times slower than the same computation with
/// huge pages, and its timings erratic, while fused SDPA (no L² tensor) was unaffected — the ratios measured the kernel's
/// page faults, not the attention method. The tunable must be set before the process starts, so the program starts
/// itself again with it (the benchmark JSON records the setting in <c>machine.glibc_tunables</c>); the kernelspec that
/// <c>kernel install</c> writes sets it for the Jupyter kernel. Linked as source into each program that needs it.
/// </summary>
internal static class HugePages
{
    public const string Tunable = "glibc.malloc.hugetlb=1";

    /// <summary>
    /// On Linux without <c>GLIBC_TUNABLES</c> set, runs this program again with the tunable and returns its exit code;
    /// otherwise (already set — also to opt out: <c>GLIBC_TUNABLES=</c> — or not Linux) returns null and the caller goes on.
    /// </summary>
    public static int? Relaunch(string[] args)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is not null) return null;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")       // `dotnet X.dll …`: keep the assembly
            start.ArgumentList.Add(typeof(HugePages).Assembly.Location);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["GLIBC_TUNABLES"] = Tunable;
        using var child = Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }
}
