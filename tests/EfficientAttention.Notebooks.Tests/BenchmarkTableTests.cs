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
}
