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
    [property: JsonPropertyName("matmul_gflops")] double MatmulGflops);

public sealed record QuickReport(
    [property: JsonPropertyName("machine")] MachineInfo Machine,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("heads")] int Heads,
    [property: JsonPropertyName("head_dim")] int HeadDim,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("cases")] IReadOnlyList<CaseResult> Cases);

/// <summary>
/// The quick mode: every case, forward and forward+backward, a warm-up call then a few timed calls (fewer for slow
/// cases), medians, and each median divided by SDPA's at the same L and pass measured in the same run.
/// </summary>
public static class QuickRun
{
    public static QuickReport Run(IReadOnlyList<BenchCase> cases, Device device, Action<string>? progress = null, bool measureMemory = true)
    {
        var clock = Stopwatch.StartNew();
        var machine = DescribeMachine(device);
        var rows = new List<CaseResult>();
        foreach (var pass in new[] { "fwd", "fwd+bwd" })
            foreach (var c in cases)
            {
                var state = c.Setup?.Invoke(c.Length);
                manual_seed(c.Length);
                var inputs = new BenchInputs(randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device), randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device),
                                             randn(Cases.Batch, Cases.Heads, c.Length, Cases.HeadDim, device: device), randn(Cases.Batch, c.Length, Cases.Heads * Cases.HeadDim, device: device), state);
                Action call = pass == "fwd" ? () => { using var _ = no_grad(); c.Run(inputs); } : () => Backward(c, inputs);
                // The first call is the warm-up; a call over 2 s is not repeated (its one-time costs are noise at that
                // size) and that first call is the measurement. Peak memory comes from the last timed call.
                var (first, firstPeak) = Measure.TimeWithPeak(call);
                int repeats = first > 2000 ? 1 : first > 300 ? 3 : first > 30 ? 5 : 9;
                double ms = first, peakMiB = firstPeak;
                if (repeats > 1)
                {
                    var times = new List<double>();
                    for (int r = 0; r < repeats; r++) { var (t, m) = Measure.TimeWithPeak(call); times.Add(t); peakMiB = m; }
                    ms = Measure.Median(times);
                }
                double? peak = measureMemory && !double.IsNaN(peakMiB) ? peakMiB : null;
                double? gflops = c.DenseFlops is { } f ? f * (pass == "fwd" ? 1 : 3) / (ms / 1000) / 1e9 : null;
                rows.Add(new CaseResult(c.Name, c.Family, pass, c.Length, Math.Round(ms, 3), double.NaN, repeats, peak is { } p ? Math.Round(p, 1) : null,
                                        gflops is { } g ? Math.Round(g, 2) : null, c.Note));
                progress?.Invoke($"{pass,-8} L={c.Length,-5} {c.Name,-28} {ms,10:F2} ms");
                if (state is IDisposable d) d.Dispose();
            }
        var withRatios = rows.Select(r =>
        {
            var sdpa = rows.FirstOrDefault(x => x.Name == "sdpa" && x.Pass == r.Pass && x.L == r.L);
            return r with { RatioToSdpa = sdpa is null ? double.NaN : Math.Round(r.MedianMs / sdpa.MedianMs, 4) };
        }).ToList();
        return new QuickReport(machine, Cases.Batch, Cases.Heads, Cases.HeadDim, Math.Round(clock.Elapsed.TotalSeconds, 1), withRatios);
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
                               typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?", device.ToString(), Math.Round(matmul, 1));
    }

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Writes the JSON (temp file, then rename: never half-written).</summary>
    public static void Write(QuickReport report, string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        DataPaths.WriteAtomically(full, stream => JsonSerializer.Serialize(stream, report, Json));
    }

    /// <summary>The committed table: machine, then one row per case and length with fwd and fwd+bwd medians and ratios.</summary>
    public static string Markdown(QuickReport report)
    {
        var m = report.Machine;
        var text = new StringBuilder();
        text.AppendLine("# Benchmark results (quick mode)").AppendLine();
        text.AppendLine($"Machine: {m.Cpu}, {m.Cores} cores ({m.TorchThreads} torch threads), {m.Os}, {m.DotNet}, TorchSharp {m.TorchSharp}, device {m.Device}; " +
                        $"2048² float32 matmul {m.MatmulGflops} GFLOP/s. B = {report.Batch}, H = {report.Heads}, d = {report.HeadDim}, float32, causal. " +
                        $"Whole run {report.Seconds} s. Ratios are to `sdpa` at the same L and pass, measured in the same run.").AppendLine();
        text.AppendLine("| case | L | fwd ms | fwd ÷ sdpa | fwd+bwd ms | fwd+bwd ÷ sdpa | peak MiB (fwd+bwd) | GFLOP/s (fwd+bwd, dense-equivalent) | note |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var group in report.Cases.GroupBy(c => (c.Name, c.L)).OrderBy(g => g.First().Family).ThenBy(g => g.Key.Name).ThenBy(g => g.Key.L))
        {
            var fwd = group.FirstOrDefault(c => c.Pass == "fwd");
            var both = group.FirstOrDefault(c => c.Pass == "fwd+bwd");
            text.AppendLine($"| {group.Key.Name} | {group.Key.L} | {fwd?.MedianMs:F2} | {fwd?.RatioToSdpa:F2} | {both?.MedianMs:F2} | {both?.RatioToSdpa:F2} | {both?.PeakMiB?.ToString("F0") ?? "–"} | {both?.Gflops?.ToString("F1") ?? "–"} | {both?.Note ?? fwd?.Note} |");
        }
        return text.ToString();
    }
}
