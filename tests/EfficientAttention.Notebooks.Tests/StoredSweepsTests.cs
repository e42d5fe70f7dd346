using EfficientAttention;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention.Notebooks.Tests;

public class StoredSweepsTests
{
    [Fact]
    public void Sweeps_survive_a_record_exactly_with_each_count_and_array_on_one_line()
    {
        var dir = Directory.CreateTempSubdirectory("sweeps").FullName;
        try
        {
            var counts = new GraphCounts(4096, 410, 300, 123, 256, 17, 255.99999999999997, 0.1 + 0.2);
            var unmeasured = new GraphCounts(10, 5, 3, 2, 4, 1);                                     // masses NaN
            var points = new List<ScoredSetting> { new("mlm", 0, "k-means", "c=8", counts, [[counts, unmeasured]]), new("lm", 2, "window", "w=4", unmeasured) };
            var config = new SortedDictionary<string, string> { ["models"] = "mlm" };
            Records.LoadOrCompute("sweep", config, "recompute", () => points, checkpoints: dir, json: StoredSweeps.Json);
            var text = File.ReadAllText(Records.PathOf("sweep", dir));
            Assert.Contains("[4096,410,300,123,256,17,255.99999999999997,0.30000000000000004]", text);
            Assert.Contains("[10,5,3,2,4,1,\"NaN\",\"NaN\"]", text);
            var loaded = Records.TryLoad<List<ScoredSetting>>("sweep", config, dir, StoredSweeps.Json)!.Value;
            Assert.Equal(counts, loaded[0].Total);
            Assert.Equal(counts, loaded[0].PerHead![0][0]);
            Assert.True(double.IsNaN(loaded[1].Total.GoldMass));
            Assert.Null(loaded[1].PerHead);
            Assert.Equal(points[1] with { Total = loaded[1].Total }, loaded[1]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Stored_projections_rebuild_modules_that_project_exactly_as_the_trained_ones()
    {
        var trained = new ProjectionTrainingResult([new SparsefinderProjection(2, 8, rank: 3, seed: 1), new SparsefinderProjection(2, 8, rank: 3, seed: 2, shared: true)], [0.9, 0.5]);
        Assert.Contains("layer 1", Assert.Throws<ArgumentException>(() => StoredProjections.Of("mlm", 0, trained)).Message);   // layers must agree on sharing
        trained = new ProjectionTrainingResult([new SparsefinderProjection(2, 8, rank: 3, seed: 1), new SparsefinderProjection(2, 8, rank: 3, seed: 2)], [0.9, 0.5]);
        var stored = StoredProjections.Of("mlm", 0, trained);
        var roundTrip = System.Text.Json.JsonSerializer.Deserialize<StoredProjections>(System.Text.Json.JsonSerializer.Serialize(stored, StoredSweeps.Json), StoredSweeps.Json)!;
        var rebuilt = roundTrip.ToResult();
        Assert.Equal(trained.Losses, rebuilt.Losses);
        var g = new Generator(3);
        var (q, k) = (randn(new long[] { 1, 2, 5, 8 }, generator: g), randn(new long[] { 1, 2, 6, 8 }, generator: g));
        for (int layer = 0; layer < 2; layer++)
        {
            var (a, b) = (trained.Projections[layer].forward(q, k), rebuilt.Projections[layer].forward(q, k));
            Assert.True(a.Q.eq(b.Q).all().item<bool>() && a.K.eq(b.K).all().item<bool>(), $"layer {layer}: the rebuilt projection differs");
        }
    }
}
