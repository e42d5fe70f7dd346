using System.Text.Json;
using EfficientAttention.Notebooks;

namespace EfficientAttention.Notebooks.Tests;

public class BenchmarkTableTests
{
    private const string Json = """
        {"machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux", "matmul_gflops": 80.5}, "seconds": 12.5,
         "cases": [
           {"name": "sdpa", "family": "full", "pass": "fwd+bwd", "L": 1024, "median_ms": 10, "ratio_to_sdpa": 1, "gflops": 50, "peak_mib": 8, "note": null},
           {"name": "sdpa", "family": "full", "pass": "fwd+bwd", "L": 2048, "median_ms": 40, "ratio_to_sdpa": 1, "gflops": 50, "peak_mib": null, "note": null},
           {"name": "combiner-fixed", "family": "combiner", "pass": "fwd+bwd", "L": 2048, "median_ms": 20, "ratio_to_sdpa": 0.5, "gflops": null, "peak_mib": 30, "note": "s = 32"},
           {"name": "combiner-fixed", "family": "combiner", "pass": "fwd+bwd", "L": 1024, "median_ms": 12, "ratio_to_sdpa": 1.2, "gflops": null, "peak_mib": 15, "note": "s = 32"}],
         "fits": [{"name": "combiner-fixed", "pass": "fwd+bwd", "slope": 0.74, "slope_lengths": [1024, 2048], "crossover_vs_sdpa": 1200, "faster_than_sdpa_from": 2048},
                  {"name": "sdpa", "pass": "fwd+bwd", "slope": 2, "slope_lengths": [1024, 2048], "crossover_vs_sdpa": null, "faster_than_sdpa_from": null}]}
        """;

    [Fact]
    public void The_suite_table_reads_rows_fits_and_machine_with_missing_numbers_as_NaN()
    {
        var table = BenchmarkTable.Parse(JsonDocument.Parse(Json).RootElement);
        Assert.Equal(4, table.Rows.Count);
        Assert.Equal("Test CPU (2 cores), Linux", table.Machine);
        Assert.Equal(80.5, table.MatmulGflops);
        Assert.True(double.IsNaN(table.Find("sdpa", 2048)!.PeakMiB));
        Assert.Null(table.Find("sdpa", 4096));
        Assert.Equal(0.5, table.Ratio("combiner-fixed", "sdpa", 2048));
        Assert.True(double.IsNaN(table.Ratio("combiner-fixed", "sdpa", 4096)));
        var curve = table.Curve("combiner-fixed", y: r => r.PeakMiB);
        Assert.Equal([1024.0, 2048], curve.X);                                  // sorted by L
        Assert.Equal([15.0, 30], curve.Y);
        Assert.Equal(2048, table.FitOf("combiner-fixed")!.FasterThanSdpaFrom);
        Assert.True(double.IsNaN(table.FitOf("sdpa")!.Crossover));
        Assert.Null(table.FitOf("sdpa")!.FasterThanSdpaFrom);
        Assert.Equal("s = 32", table.Find("combiner-fixed", 1024)!.Note);
    }

    [Fact]
    public void A_suite_of_several_runs_gives_per_run_samples_and_error_bars()
    {
        string Run(double sdpa2048, double fixed2048, double slope) => $$"""
            {"run": 1, "seconds": 5, "cases": [
              {"name": "sdpa", "family": "full", "pass": "fwd+bwd", "L": 2048, "median_ms": {{sdpa2048}}, "ratio_to_sdpa": 1},
              {"name": "combiner-fixed", "family": "combiner", "pass": "fwd+bwd", "L": 2048, "median_ms": {{fixed2048}}, "ratio_to_sdpa": {{fixed2048 / sdpa2048}}}],
             "fits": [{"name": "combiner-fixed", "pass": "fwd+bwd", "slope": {{slope}}, "crossover_vs_sdpa": 1000, "faster_than_sdpa_from": 2048}]}
            """;
        var json = Json.TrimEnd().TrimEnd('}') + $", \"runs\": [{Run(40, 20, 1.1)}, {Run(50, 20, 1.2)}, {Run(40, 30, 1.3)}]}}";
        var table = BenchmarkTable.Parse(JsonDocument.Parse(json).RootElement);
        Assert.Equal(3, table.Runs.Count);
        var slopes = table.SlopeSample("combiner-fixed");
        Assert.Equal([1.1, 1.2, 1.3], slopes.Values);
        Assert.Equal([0.5, 0.4, 0.75], table.RatioSample("combiner-fixed", "sdpa", 2048).Values.Select(x => Math.Round(x, 12)));
        Assert.Equal(3, table.CrossoverSample("combiner-fixed").Count);
        var curve = table.Curve("combiner-fixed");
        Assert.NotNull(curve.ErrorY);
        Assert.Equal(Sample.Of("x", [20.0, 20, 30]).StandardError, curve.ErrorY![1], 12);   // L = 2048: SE over the runs
        Assert.Empty(BenchmarkTable.Parse(JsonDocument.Parse(Json).RootElement).Runs);
        Assert.Null(BenchmarkTable.Parse(JsonDocument.Parse(Json).RootElement).Curve("sdpa").ErrorY);
    }
}
