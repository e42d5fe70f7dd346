using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace EfficientAttention.Benchmarks;

/// <summary>One measured row of the quick table.</summary>
public sealed record CaseResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("family")] string Family,
    [property: JsonPropertyName("pass")] string Pass,
    [property: JsonPropertyName("L")] int L,
    [property: JsonPropertyName("median_ms")] double MedianMs,
    [property: JsonPropertyName("ratio_to_sdpa")] double RatioToSdpa,
    [property: JsonPropertyName("repeats")] int Repeats,
    [property: JsonPropertyName("peak_mib")] double? PeakMiB,
    [property: JsonPropertyName("gflops")] double? Gflops,
    [property: JsonPropertyName("note")] string? Note);

public sealed record MachineInfo(
    [property: JsonPropertyName("cpu")] string Cpu,
    [property: JsonPropertyName("cores")] int Cores,
    [property: JsonPropertyName("torch_threads")] int TorchThreads,
    [property: JsonPropertyName("os")] string Os,
    [property: JsonPropertyName("dotnet")] string DotNet,
    [property: JsonPropertyName("torchsharp")] string TorchSharp,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("matmul_gflops")] double MatmulGflops,
    [property: JsonPropertyName("glibc_tunables")] string? GlibcTunables);

/// <summary>
/// How one case scales in this run: the log–log slope of its median time over <see cref="QuickRun.SlopeFrom"/> ≤ L ≤
/// <see cref="QuickRun.SlopeTo"/>, the interpolated L where it first becomes faster than SDPA, and the smallest measured
/// L from which it stays faster at every longer measured L (null: never, or not measured there).
/// </summary>
public sealed record ScalingFit(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("pass")] string Pass,
    [property: JsonPropertyName("slope")] double? Slope,
    [property: JsonPropertyName("slope_lengths")] IReadOnlyList<int> SlopeLengths,
    [property: JsonPropertyName("crossover_vs_sdpa")] double? CrossoverVsSdpa,
    [property: JsonPropertyName("faster_than_sdpa_from")] int? FasterThanSdpaFrom);

public sealed record QuickReport(
    [property: JsonPropertyName("machine")] MachineInfo Machine,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("heads")] int Heads,
    [property: JsonPropertyName("head_dim")] int HeadDim,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("cases")] IReadOnlyList<CaseResult> Cases)
{
    /// <summary>Every case's scaling over <see cref="Cases"/> (see <see cref="ScalingFit"/>).</summary>
    [JsonPropertyName("fits")]
    public IReadOnlyList<ScalingFit> Fits => QuickRun.Fits(Cases);

    /// <summary>
    /// The independent runs this report summarises (null for a single run). With several, <see cref="Cases"/> holds
    /// per (case, pass, L) the median over runs of each run's median time and of each run's same-run ratio to SDPA.
    /// </summary>
    [JsonPropertyName("runs")]
    public IReadOnlyList<SuiteRun>? Runs { get; init; }
}

/// <summary>One whole run of the suite: its own medians, same-run ratios and fits.</summary>
public sealed record SuiteRun(
    [property: JsonPropertyName("run")] int Run,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("cases")] IReadOnlyList<CaseResult> Cases)
{
    [JsonPropertyName("fits")]
    public IReadOnlyList<ScalingFit> Fits => QuickRun.Fits(Cases);
}

/// <summary>
/// The quick mode: every case, forward and forward+backward; per length a warm-up call of each (also its peak-memory
/// probe), then <c>rounds</c> interleaved rounds of timed calls; medians, each divided by SDPA's at the same L and
/// pass measured in the same run.
/// </summary>
public static class QuickRun
{
    /// <summary>Default rounds of interleaved measurements per length (a case over 2 s is measured in the first round only).</summary>
    public const int DefaultRounds = 5;

    public static QuickReport Run(IReadOnlyList<BenchCase> cases, Device device, Action<string>? progress = null, bool measureMemory = true, int rounds = DefaultRounds)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, $"rounds = {rounds}; expected ≥ 1.");
        var clock = Stopwatch.StartNew();
        var machine = DescribeMachine(device);
        var rows = new List<CaseResult>();
        foreach (var group in cases.GroupBy(c => c.Length).OrderBy(g => g.Key))
        {
            // Every (case, pass) of one length is measured round-robin, so drift in the machine's state (allocator,
            // caches, other load) spreads over all cases alike; the first call of each is its warm-up and memory probe.
            var runs = new List<(BenchCase Case, string Pass, Action Call, double First, double Peak, List<double> Samples, int Inner)>();
            foreach (var c in group)
            {
                var state = c.Setup?.Invoke(c.Length);
                manual_seed(c.Length);
                var inputs = new BenchInputs(randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device), randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device),
                                             randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device), randn(Cases.Batch, c.Length, Cases.Heads * Cases.HeadDim, device: device), state);
                foreach (var pass in new[] { "fwd", "fwd+bwd" })
                {
                    Action call = pass == "fwd" ? () => { using var _ = no_grad(); c.Run(inputs); } : () => Backward(c, inputs);
                    var (first, peak) = Measure.TimeWithPeak(call);
                    int inner = first < 20 ? (int)Math.Min(20, Math.Ceiling(20 / Math.Max(first, 0.05))) : 1;   // ≥ ~20 ms per sample
                    runs.Add((c, pass, call, first, peak, new List<double>(), inner));
                }
            }
            for (int round = 0; round < rounds; round++)
                foreach (var run in runs)
                {
                    if (round > 0 && run.First > 2000) continue;
                    run.Samples.Add(Enumerable.Range(0, run.Inner).Select(_ => Measure.Milliseconds(run.Call, repeats: 1, warmup: 0)).Average());
                }
            foreach (var run in runs)
            {
                double ms = Measure.Median(run.Samples);
                double? gflops = run.Case.DenseFlops is { } f ? f * (run.Pass == "fwd" ? 1 : 3) / (ms / 1000) / 1e9 : null;
                rows.Add(new CaseResult(run.Case.Name, run.Case.Family, run.Pass, run.Case.Length, Math.Round(ms, 3), double.NaN, run.Samples.Count * run.Inner,
                                        measureMemory && !double.IsNaN(run.Peak) ? Math.Round(run.Peak, 1) : null, gflops is { } g ? Math.Round(g, 2) : null, run.Case.Note));
                progress?.Invoke($"{run.Pass,-8} L={run.Case.Length,-5} {run.Case.Name,-28} {ms,10:F2} ms");
            }
        }
        var withRatios = rows.Select(r =>
        {
            var sdpa = rows.FirstOrDefault(x => x.Name == "sdpa" && x.Pass == r.Pass && x.L == r.L);
            return r with { RatioToSdpa = sdpa is null ? double.NaN : Math.Round(r.MedianMs / sdpa.MedianMs, 4) };
        }).ToList();
        return new QuickReport(machine, Cases.Batch, Cases.Heads, Cases.HeadDim, Math.Round(clock.Elapsed.TotalSeconds, 1), withRatios);
    }

    /// <summary>
    /// Several independent runs as one report: each case's median time and same-run ratio are the medians over the
    /// runs; every run is kept in <see cref="QuickReport.Runs"/> (its slopes and crossovers are the samples a verdict
    /// on cost rests on).
    /// </summary>
    public static QuickReport Combine(IReadOnlyList<QuickReport> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("runs is empty; expected ≥ 1 report.", nameof(runs));
        if (runs.Count == 1) return runs[0];
        var cases = runs[0].Cases.Select(first =>
        {
            var same = runs.Select(r => r.Cases.FirstOrDefault(c => c.Name == first.Name && c.Pass == first.Pass && c.L == first.L)).OfType<CaseResult>().ToList();
            return first with
            {
                MedianMs = Math.Round(Measure.Median(same.Select(c => c.MedianMs).ToList()), 3),
                RatioToSdpa = Math.Round(Measure.Median(same.Select(c => c.RatioToSdpa).ToList()), 4),
                Repeats = same.Sum(c => c.Repeats),
                PeakMiB = same.Select(c => c.PeakMiB).OfType<double>().DefaultIfEmpty(double.NaN).Max() is var p && !double.IsNaN(p) ? p : null,
                Gflops = same.Select(c => c.Gflops).OfType<double>().ToList() is { Count: > 0 } g ? Math.Round(Measure.Median(g), 2) : null,
            };
        }).ToList();
        return runs[0] with
        {
            Seconds = Math.Round(runs.Sum(r => r.Seconds), 1), Cases = cases,
            Runs = runs.Select((r, i) => new SuiteRun(i + 1, r.Seconds, r.Cases)).ToList(),
        };
    }

    /// <summary>The range of L the scaling slopes are fitted over.</summary>
    public const int SlopeFrom = 1024, SlopeTo = 8192;

    /// <summary>Slope and crossover against SDPA of every (case, pass) measured at two or more lengths.</summary>
    public static IReadOnlyList<ScalingFit> Fits(IReadOnlyList<CaseResult> cases)
    {
        var fits = new List<ScalingFit>();
        foreach (var group in cases.GroupBy(c => (c.Name, c.Pass)).OrderBy(g => g.Key.Name).ThenBy(g => g.Key.Pass))
        {
            var points = group.OrderBy(c => c.L).ToList();
            if (points.Count < 2) continue;
            var fitted = points.Where(p => p.L >= SlopeFrom && p.L <= SlopeTo && p.MedianMs > 0).ToList();
            double? slope = fitted.Count >= 2 ? Math.Round(Measure.LogLogSlope(fitted.Select(p => (double)p.L).ToList(), fitted.Select(p => p.MedianMs).ToList()), 3) : null;
            var paired = points.Where(p => !double.IsNaN(p.RatioToSdpa)).ToList();
            double? crossover = null; int? from = null;
            if (paired.Count > 0 && group.Key.Name != "sdpa")
            {
                double x = Measure.Crossover(paired.Select(p => (double)p.L).ToList(), paired.Select(p => p.RatioToSdpa).ToList(), paired.Select(_ => 1.0).ToList());
                crossover = double.IsNaN(x) ? null : Math.Round(x, 0);
                for (int i = paired.Count - 1; i >= 0 && paired[i].RatioToSdpa < 1; i--) from = paired[i].L;
            }
            fits.Add(new ScalingFit(group.Key.Name, group.Key.Pass, slope, fitted.Select(p => p.L).ToList(), crossover, from));
        }
        return fits;
    }

    private static void Backward(BenchCase c, BenchInputs inputs)
    {
        var grads = inputs with { Q = inputs.Q.detach().requires_grad_(true), K = inputs.K.detach().requires_grad_(true), V = inputs.V.detach().requires_grad_(true), X = inputs.X.detach().requires_grad_(true) };
        c.Run(grads).sum().backward();
    }

    private static double? NullIfNaN(double x) => double.IsNaN(x) ? null : x;

    public static MachineInfo DescribeMachine(Device device)
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        if (File.Exists("/proc/cpuinfo"))
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        double matmul;
        {
            using var scope = NewDisposeScope();
            var a = randn(2048, 2048, device: device); var b = randn(2048, 2048, device: device);
            double ms = Measure.Milliseconds(() => a.matmul(b).sum().item<float>(), repeats: 5, warmup: 2);
            matmul = 2.0 * 2048 * 2048 * 2048 / (ms / 1000) / 1e9;
        }
        return new MachineInfo(cpu, Environment.ProcessorCount, get_num_threads(), RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
                               typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?", device.ToString(), Math.Round(matmul, 1),
                               Environment.GetEnvironmentVariable("GLIBC_TUNABLES"));
    }

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Writes the JSON (temp file, then rename: never half-written).</summary>
    public static void Write(QuickReport report, string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        AtomicFile.Write(full, stream => JsonSerializer.Serialize(stream, report, Json));
    }

    /// <summary>The committed table: machine, then one row per case and length with fwd and fwd+bwd medians and ratios.</summary>
    public static string Markdown(QuickReport report)
    {
        var m = report.Machine;
        var text = new StringBuilder();
        text.AppendLine("# Benchmark results (quick mode)").AppendLine();
        text.AppendLine($"Machine: {m.Cpu}, {m.Cores} cores ({m.TorchThreads} torch threads), {m.Os}, {m.DotNet}, TorchSharp {m.TorchSharp}, device {m.Device}; " +
                        $"2048² float32 matmul {m.MatmulGflops} GFLOP/s{(m.GlibcTunables is { } t ? $", GLIBC_TUNABLES={t}" : "")}. B = {report.Batch}, H = {report.Heads}, d = {report.HeadDim}, float32, causal. " +
                        (report.Runs is { } runs
                            ? $"{runs.Count} independent runs, {report.Seconds} s in all; each time is the median over the runs of each run's median, each ratio the median over the runs of the same-run ratio to `sdpa` at the same L and pass."
                            : $"Whole run {report.Seconds} s. Ratios are to `sdpa` at the same L and pass, measured in the same run.")).AppendLine();
        text.AppendLine("| case | L | fwd ms | fwd ÷ sdpa | fwd+bwd ms | fwd+bwd ÷ sdpa | peak MiB (fwd+bwd) | GFLOP/s (fwd+bwd, dense-equivalent) | note |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var group in report.Cases.GroupBy(c => (c.Name, c.L)).OrderBy(g => g.First().Family).ThenBy(g => g.Key.Name).ThenBy(g => g.Key.L))
        {
            var fwd = group.FirstOrDefault(c => c.Pass == "fwd");
            var both = group.FirstOrDefault(c => c.Pass == "fwd+bwd");
            text.AppendLine($"| {group.Key.Name} | {group.Key.L} | {fwd?.MedianMs:F2} | {fwd?.RatioToSdpa:F2} | {both?.MedianMs:F2} | {both?.RatioToSdpa:F2} | {both?.PeakMiB?.ToString("F0") ?? "–"} | {both?.Gflops?.ToString("F1") ?? "–"} | {both?.Note ?? fwd?.Note} |");
        }
        text.AppendLine().AppendLine($"## Scaling{(report.Runs is null ? " (this run)" : " (medians over the runs; per-run fits in the JSON)")}: log–log slope of the median time over {SlopeFrom} ≤ L ≤ {SlopeTo}, and where a case overtakes SDPA").AppendLine();
        text.AppendLine("| case | pass | slope | lengths fitted | crossover vs sdpa (L) | faster than sdpa from L |");
        text.AppendLine("|---|---|---:|---|---:|---:|");
        foreach (var f in report.Fits.Where(f => f.Slope is not null))
            text.AppendLine($"| {f.Name} | {f.Pass} | {f.Slope:F2} | {string.Join(", ", f.SlopeLengths)} | {f.CrossoverVsSdpa?.ToString("F0") ?? "–"} | {f.FasterThanSdpaFrom?.ToString() ?? "–"} |");
        return text.ToString();
    }
}
