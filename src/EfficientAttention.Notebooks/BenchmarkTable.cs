using System.Text.Json;

namespace EfficientAttention.Notebooks;

/// <summary>One measurement of the benchmark suite: a case at one length and pass, its median and its same-run ratio to SDPA.</summary>
public sealed record BenchmarkRow(string Name, string Family, string Pass, int L, double Ms, double RatioToSdpa, double Gflops, double PeakMiB, string? Note);

/// <summary>How one case scales in the suite's run: slope over 1024 ≤ L ≤ 8192, crossover with SDPA, and the L from which it stays faster (null: never).</summary>
public sealed record BenchmarkFit(string Name, string Pass, double Slope, double Crossover, int? FasterThanSdpaFrom);

/// <summary>
/// The benchmark suite's table (<c>notebooks/results/benchmarks.json</c>, written by <c>src/EfficientAttention.Benchmarks quick</c>),
/// as notebooks 04 and 05 read it: every row, every fit, and the machine it was measured on. Missing numbers are NaN.
/// A suite of several independent runs (<c>--runs N</c>) carries each run as its own table in <see cref="Runs"/>; its
/// rows are then the medians over the runs, and the per-run slopes, crossovers and ratios are the samples verdicts use.
/// </summary>
public sealed record BenchmarkTable(IReadOnlyList<BenchmarkRow> Rows, IReadOnlyList<BenchmarkFit> Fits, string Machine, double MatmulGflops, double Seconds)
{
    /// <summary>Each independent run of the suite as a table of its own (empty for a single-run suite).</summary>
    public IReadOnlyList<BenchmarkTable> Runs { get; init; } = [];

    /// <summary>The per-run log–log slopes of <paramref name="name"/> (one value per run).</summary>
    public Sample SlopeSample(string name, string pass = "fwd+bwd") =>
        Sample.Of($"{name} slope", Each(t => t.FitOf(name, pass)?.Slope ?? double.NaN));

    /// <summary>The per-run crossovers of <paramref name="name"/> with SDPA (L; NaN where a run has none).</summary>
    public Sample CrossoverSample(string name, string pass = "fwd+bwd") =>
        Sample.Of($"{name} crossover", Each(t => t.FitOf(name, pass)?.Crossover ?? double.NaN));

    /// <summary>Per run, the time of <paramref name="a"/> ÷ the time of <paramref name="b"/> at one length and pass (same-run ratios).</summary>
    public Sample RatioSample(string a, string b, int length, string pass = "fwd+bwd") =>
        Sample.Of($"{a} ÷ {b}", Each(t => t.Ratio(a, b, length, pass)));

    private IEnumerable<double> Each(Func<BenchmarkTable, double> value) =>
        (Runs.Count > 0 ? Runs : [this]).Select(value).Where(x => !double.IsNaN(x));

    public static BenchmarkTable Load(string name = "benchmarks")
    {
        using var document = Results.Load(name);
        return Parse(document.RootElement);
    }

    /// <summary>The table from the suite's JSON (see <see cref="Load"/>).</summary>
    public static BenchmarkTable Parse(JsonElement root)
    {
        var rows = root.GetProperty("cases").EnumerateArray().Select(c => new BenchmarkRow(
            c.GetProperty("name").GetString()!, c.GetProperty("family").GetString()!, c.GetProperty("pass").GetString()!, c.GetProperty("L").GetInt32(),
            Number(c, "median_ms"), Number(c, "ratio_to_sdpa"), Number(c, "gflops"), Number(c, "peak_mib"),
            c.TryGetProperty("note", out var note) && note.ValueKind == JsonValueKind.String ? note.GetString() : null)).ToList();
        var fits = root.TryGetProperty("fits", out var f)
            ? f.EnumerateArray().Select(x => new BenchmarkFit(x.GetProperty("name").GetString()!, x.GetProperty("pass").GetString()!, Number(x, "slope"), Number(x, "crossover_vs_sdpa"),
                  x.TryGetProperty("faster_than_sdpa_from", out var from) && from.ValueKind == JsonValueKind.Number ? from.GetInt32() : null)).ToList()
            : [];
        var machine = root.GetProperty("machine");
        string description = $"{machine.GetProperty("cpu").GetString()} ({machine.GetProperty("cores").GetInt32()} cores), {machine.GetProperty("os").GetString()}";
        var runs = root.TryGetProperty("runs", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(run => Parse(run, machine)).ToList() : [];
        return new BenchmarkTable(rows, fits, description, Number(machine, "matmul_gflops"), Number(root, "seconds")) { Runs = runs };
    }

    private static BenchmarkTable Parse(JsonElement run, JsonElement machine)
    {
        using var document = JsonDocument.Parse($"{{\"machine\": {machine.GetRawText()}, \"seconds\": {run.GetProperty("seconds").GetRawText()}, \"cases\": {run.GetProperty("cases").GetRawText()}, \"fits\": {run.GetProperty("fits").GetRawText()}}}");
        return Parse(document.RootElement);
    }

    /// <summary>The row of <paramref name="name"/> at <paramref name="length"/> and <paramref name="pass"/>, or null where it was not measured.</summary>
    public BenchmarkRow? Find(string name, int length, string pass = "fwd+bwd") => Rows.FirstOrDefault(r => r.Name == name && r.L == length && r.Pass == pass);

    /// <summary>The fit of <paramref name="name"/>, or null.</summary>
    public BenchmarkFit? FitOf(string name, string pass = "fwd+bwd") => Fits.FirstOrDefault(x => x.Name == name && x.Pass == pass);

    /// <summary>
    /// One case's rows for a pass, by length: a chart's series; with several runs, error bars of ± the standard error
    /// over the runs of each run's value.
    /// </summary>
    public Series Curve(string name, string pass = "fwd+bwd", Func<BenchmarkRow, double>? y = null, string? label = null)
    {
        y ??= p => p.Ms;
        var points = Rows.Where(r => r.Name == name && r.Pass == pass).OrderBy(r => r.L).ToList();
        IReadOnlyList<double>? errors = Runs.Count < 2 ? null
            : points.Select(p => Sample.Of(name, Runs.Select(t => t.Find(name, p.L, pass)).OfType<BenchmarkRow>().Select(y)).StandardError is var se && double.IsNaN(se) ? 0 : se).ToList();
        return new Series(label ?? name, points.Select(p => (double)p.L).ToList(), points.Select(y).ToList(), errors);
    }

    /// <summary>Time of <paramref name="a"/> ÷ time of <paramref name="b"/> at one length and pass (same run), NaN where either is missing.</summary>
    public double Ratio(string a, string b, int length, string pass = "fwd+bwd") =>
        Find(a, length, pass) is { } x && Find(b, length, pass) is { } y ? x.Ms / y.Ms : double.NaN;

    private static double Number(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
}
