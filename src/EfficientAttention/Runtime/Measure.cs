using System.Diagnostics;
using System.Runtime.InteropServices;
using MathNet.Numerics;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Timing and memory measurements for notebooks and benchmarks: medians of repeats after warm-up (machines are noisy;
/// compare ratios taken in one run), peak resident memory of one call, and log–log slopes and crossovers of cost curves.
/// </summary>
public static class Measure
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(x => x).ToArray();
        if (sorted.Length == 0) throw new ArgumentException("values is empty; expected at least one measurement.", nameof(values));
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Median wall time in ms of <paramref name="repeats"/> calls after <paramref name="warmup"/> calls; each call runs in its own dispose scope.</summary>
    public static double Milliseconds(Action action, int repeats = 5, int warmup = 1) => Median(Repeated(action, repeats, warmup));

    /// <summary>Wall time in ms of each of <paramref name="repeats"/> calls after <paramref name="warmup"/> calls (each in its own dispose scope).</summary>
    public static double[] Repeated(Action action, int repeats = 5, int warmup = 1)
    {
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, $"repeats = {repeats}; expected ≥ 1.");
        if (warmup < 0) throw new ArgumentOutOfRangeException(nameof(warmup), warmup, $"warmup = {warmup}; expected ≥ 0.");
        for (int i = 0; i < warmup; i++) Scoped(action);
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            Scoped(action);
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        return times;
    }

    /// <summary>
    /// Peak resident memory (MiB) one call adds above the resident memory before it: Linux's high-water mark VmHWM, reset
    /// through /proc/self/clear_refs before the call. NaN where that is not available (Windows, macOS, containers that
    /// forbid it). CPU tensors only; the figure includes allocator slack.
    /// </summary>
    public static double PeakMemoryMiB(Action action) => TimeWithPeak(action).PeakMiB;

    /// <summary>
    /// One timed call that also reports its peak memory (as <see cref="PeakMemoryMiB"/>, NaN where unavailable): for
    /// slow cases, where a separate memory call would double the cost.
    /// </summary>
    public static (double Milliseconds, double PeakMiB) TimeWithPeak(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool linux = OperatingSystem.IsLinux() && TryReset();
        if (linux) { TrimHeap(); TryReset(); }
        double before = linux ? Status("VmRSS:") : double.NaN;
        var clock = Stopwatch.StartNew();
        Scoped(action);
        double ms = clock.Elapsed.TotalMilliseconds;
        double peak = linux ? Status("VmHWM:") : double.NaN;
        return (ms, double.IsNaN(before) || double.IsNaN(peak) ? double.NaN : Math.Max(0, peak - before) / 1024);
    }

    /// <summary>Slope of log y against log x by least squares: the exponent p in y ∝ x^p.</summary>
    public static double LogLogSlope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Count < 2) throw new ArgumentException($"x has {x.Count} and y {y.Count} values; expected two equally long lists of ≥ 2.", nameof(y));
        if (x.Concat(y).Any(v => !(v > 0))) throw new ArgumentException("x and y must be positive for a log–log fit.", nameof(y));
        return Fit.Line(x.Select(v => Math.Log(v)).ToArray(), y.Select(v => Math.Log(v)).ToArray()).B;
    }

    /// <summary>
    /// The first x where curve <paramref name="a"/> drops below curve <paramref name="b"/> (both measured at ascending
    /// <paramref name="x"/>), interpolated linearly in log–log between the bracketing points; x[0] when a is already
    /// below at the start; NaN when it never is.
    /// </summary>
    public static double Crossover(IReadOnlyList<double> x, IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (x.Count != a.Count || x.Count != b.Count || x.Count == 0) throw new ArgumentException("x, a and b must be equally long and non-empty.", nameof(x));
        if (a[0] < b[0]) return x[0];
        for (int i = 1; i < x.Count; i++)
        {
            if (a[i] >= b[i]) continue;
            double g0 = Math.Log(a[i - 1] / b[i - 1]), g1 = Math.Log(a[i] / b[i]);      // log-ratio goes from ≥ 0 to < 0
            double t = g0 / (g0 - g1);
            return Math.Exp(Math.Log(x[i - 1]) + t * (Math.Log(x[i]) - Math.Log(x[i - 1])));
        }
        return double.NaN;
    }

    private static void Scoped(Action action)
    {
        using var scope = NewDisposeScope();
        action();
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(UIntPtr pad);

    private static void TrimHeap()
    {
        try { MallocTrim(UIntPtr.Zero); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }   // not glibc: measure as is
    }

    private static bool TryReset()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static double Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line[field.Length..].Trim().Split(' ')[0]);   // kB
    }
}
