using System.Text.Json;
using EfficientAttention;
using EfficientAttention.Benchmarks;

namespace EfficientAttention.Benchmarks.Tests;

public class QuickRunTests
{
    [Fact]
    public void Quick_mode_measures_every_case_in_both_passes_with_ratios_to_sdpa_and_writes_its_json()
    {
        TorchRuntime.EnsureLoaded();
        var cases = Cases.All([64, 128]);
        string[] required = ["sdpa", "softmax", "entmax15", "entmax15-torch-ops", "combiner-fixed", "combiner-logsparse", "reuse-k2", "mha-sdpa", "sparsefinder-routed-0.9"];
        foreach (var name in required) Assert.Contains(cases, c => c.Name == name);

        var report = QuickRun.Run(cases, CPU, measureMemory: false);
        Assert.Equal(cases.Count * 2, report.Cases.Count);
        Assert.All(report.Cases, r => Assert.True(r.MedianMs > 0 && double.IsFinite(r.RatioToSdpa), $"{r.Name} {r.Pass} L={r.L}"));
        Assert.All(report.Cases.Where(r => r.Name == "sdpa"), r => Assert.Equal(1.0, r.RatioToSdpa));
        var softmax = report.Cases.First(r => r.Name == "softmax" && r.Pass == "fwd" && r.L == 128);
        var sdpa = report.Cases.First(r => r.Name == "sdpa" && r.Pass == "fwd" && r.L == 128);
        Assert.Equal(Math.Round(softmax.MedianMs / sdpa.MedianMs, 4), softmax.RatioToSdpa);
        Assert.True(report.Machine.MatmulGflops > 0);

        var path = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        QuickRun.Write(report, path);
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        File.Delete(path);
        var first = json.RootElement.GetProperty("cases")[0];
        foreach (var field in new[] { "name", "pass", "L", "median_ms", "ratio_to_sdpa" }) Assert.True(first.TryGetProperty(field, out _), field);
        Assert.True(json.RootElement.GetProperty("machine").TryGetProperty("cores", out _));
        Assert.Contains("| combiner-fixed | 128 |", QuickRun.Markdown(report));
    }

    [Fact]
    public void Fits_give_each_case_its_slope_crossover_and_the_length_from_which_it_stays_faster_than_sdpa()
    {
        CaseResult Row(string name, int l, double ms, double sdpa) => new(name, "f", "fwd+bwd", l, ms, Math.Round(ms / sdpa, 4), 5, null, null, null);
        int[] lengths = [512, 1024, 2048, 4096, 8192];
        double Sdpa(int l) => 1e-5 * l * (double)l;                                  // quadratic
        var rows = lengths.Select(l => Row("sdpa", l, Sdpa(l), Sdpa(l)))
            .Concat(lengths.Select(l => Row("linear", l, 0.02 * l, Sdpa(l))))          // 0.02 L < 1e-5 L² from L = 2000 on
            .Concat(lengths.Select(l => Row("wobbly", l, l == 4096 ? 2 * Sdpa(l) : 0.5 * Sdpa(l), Sdpa(l))))
            .ToList();
        var fits = QuickRun.Fits(rows);
        var linear = fits.Single(f => f.Name == "linear");
        Assert.Equal(1.0, linear.Slope!.Value, 3);
        Assert.Equal([1024, 2048, 4096, 8192], linear.SlopeLengths);
        Assert.Equal(2048, linear.FasterThanSdpaFrom);
        Assert.InRange(linear.CrossoverVsSdpa!.Value, 2000, 2100);
        Assert.Equal(2.0, fits.Single(f => f.Name == "sdpa").Slope!.Value, 3);
        var wobbly = fits.Single(f => f.Name == "wobbly");
        Assert.Equal(512, wobbly.CrossoverVsSdpa);                                     // faster at the start …
        Assert.Equal(8192, wobbly.FasterThanSdpaFrom);                                 // … but not at every longer L
        Assert.Contains("| linear | fwd+bwd | 1.00 |", QuickRun.Markdown(new QuickReport(QuickRun.DescribeMachine(CPU), 1, 4, 64, 1, rows)));
    }

    [Fact]
    public void Dense_cases_stop_at_their_length_limits_and_block_sizes_follow_the_rule()
    {
        var names = Cases.All([8192]).Select(c => c.Name).ToHashSet();
        Assert.Contains("softmax", names);
        Assert.DoesNotContain("sparsemax", names);                       // full sort per row of 8192: beyond sortLimit
        Assert.DoesNotContain("entmax15-torch-ops", names);
        Assert.DoesNotContain("reuse-k0", names);
        Assert.Contains(Cases.All([4096]), c => c.Name == "combiner-fixed" && c.Note == "s = 64");
        Assert.Contains(Cases.All([4096]), c => c.Name == "combiner-logsparse" && c.Note == "s = 32");
        Assert.Equal(0.0, Cases.ReuseSaving(1024, 0));
        Assert.InRange(Cases.ReuseSaving(1024, 2), 0.2, 0.5);
    }
}
