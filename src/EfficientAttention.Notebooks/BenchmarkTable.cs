using System.Text.Json;

namespace EfficientAttention.Notebooks;

/// <summary>One measurement of the benchmark suite: a case at one length and pass, its median and its same-run ratio to SDPA.</summary>
public sealed record BenchmarkRow(string Name, string Family, string Pass, int L, double Ms, double RatioToSdpa, double Gflops, double PeakMiB, string? Note);

/// <summary>How one case scales in the suite's run: slope over 1024 ≤ L ≤ 8192, crossover with SDPA, and the L from which it stays faster (null: never).</summary>
public sealed record BenchmarkFit(string Name, string Pass, double Slope, double Crossover, int? FasterThanSdpaFrom);

/// <summary>
/// The benchmark suite's table (<c>notebooks/results/benchmarks.json</c>, written by <c>src/EfficientAttention.Benchmarks quick</c>),
/// as notebooks 04 and 05 read it: every row, every fit, and the machine it was measured on. Missing numbers are NaN.
/// </summary>
public sealed record BenchmarkTable(IReadOnlyList<BenchmarkRow> Rows, IReadOnlyList<BenchmarkFit> Fits, string Machine, double MatmulGflops, double Seconds)
{
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
        return new BenchmarkTable(rows, fits, description, Number(machine, "matmul_gflops"), Number(root, "seconds"));
    }

    /// <summary>The row of <paramref name="name"/> at <paramref name="length"/> and <paramref name="pass"/>, or null where it was not measured.</summary>
    public BenchmarkRow? Find(string name, int length, string pass = "fwd+bwd") => Rows.FirstOrDefault(r => r.Name == name && r.L == length && r.Pass == pass);

    /// <summary>The fit of <paramref name="name"/>, or null.</summary>
    public BenchmarkFit? FitOf(string name, string pass = "fwd+bwd") => Fits.FirstOrDefault(x => x.Name == name && x.Pass == pass);

    /// <summary>One case's rows for a pass, by length: a chart's series.</summary>
    public Series Curve(string name, string pass = "fwd+bwd", Func<BenchmarkRow, double>? y = null, string? label = null)
    {
        var points = Rows.Where(r => r.Name == name && r.Pass == pass).OrderBy(r => r.L).ToList();
        return new Series(label ?? name, points.Select(p => (double)p.L).ToList(), points.Select(y ?? (p => p.Ms)).ToList());
    }

    /// <summary>Time of <paramref name="a"/> ÷ time of <paramref name="b"/> at one length and pass (same run), NaN where either is missing.</summary>
    public double Ratio(string a, string b, int length, string pass = "fwd+bwd") =>
        Find(a, length, pass) is { } x && Find(b, length, pass) is { } y ? x.Ms / y.Ms : double.NaN;

    private static double Number(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
}
