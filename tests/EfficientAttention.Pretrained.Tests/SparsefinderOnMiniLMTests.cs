using static TorchSharp.torch;

namespace EfficientAttention.Pretrained.Tests;

/// <summary>What Sparsefinder needs from the pretrained encoder: entmax heads calibrated to the pretrained maps, q and k per layer, replaceable cores.</summary>
public class SparsefinderOnMiniLMTests(MiniLMFixture fixture) : IClassFixture<MiniLMFixture>
{
    private TokenBatch Batch() => fixture.Model.Tokenize(fixture.Sentences.Take(4).ToList());

    [Fact]
    public void Calibration_picks_per_head_temperatures_that_bring_entmax_maps_closer_and_folds_them_into_the_queries()
    {
        using var entmax = MiniLM.Load(normalizer: Normalizer.Entmax15);
        using var batch = Batch();
        var queryBefore = entmax.Encoder.named_parameters().First(p => p.name == "layers.2.query.weight").parameter.detach().clone();
        double[] grid = [0.1, 0.3, 1.0];
        var result = TemperatureCalibration.Calibrate(entmax.Encoder, fixture.Model.Encoder, batch.Ids, batch.RealTokens, grid);
        Assert.Equal(6, result.Scale.Length);
        Assert.All(result.Scale.SelectMany(s => s), s => Assert.Contains(s, grid));
        for (int l = 0; l < 6; l++)
            for (int h = 0; h < 12; h++)
                Assert.True(result.DistanceAfter[l][h] <= result.DistanceBefore[l][h] + 1e-9, $"layer {l} head {h}: {result.DistanceAfter[l][h]} > {result.DistanceBefore[l][h]}");
        Assert.True(result.DistanceAfter.SelectMany(d => d).Average() < 0.7 * result.DistanceBefore.SelectMany(d => d).Average(), "calibration brings the maps closer on average");
        var queryAfter = entmax.Encoder.named_parameters().First(p => p.name == "layers.2.query.weight").parameter;
        for (int h = 0; h < 12; h++)                                                                  // head h's 32 rows scaled by its s
            Assert.True(queryAfter[(h * 32)..((h + 1) * 32)].allclose(queryBefore[(h * 32)..((h + 1) * 32)] * result.Scale[2][h], 1e-5, 1e-6));
        var calibrated = entmax.Encoder.Forward(batch.Ids, batch.RealTokens, withProbabilities: true).Probabilities!;
        var target = fixture.Model.Encoder.Forward(batch.Ids, batch.RealTokens, withProbabilities: true).Probabilities!;
        double tv = calibrated[0].sub(target[0]).abs().sum(-1).mul(0.5).masked_select(batch.RealTokens.unsqueeze(1).expand(-1, 12, -1)).mean().item<float>();
        Assert.Equal(result.DistanceAfter[0].Average(), tv, 1e-4);                                  // the distance reported is the one the model now has
        using var floored = MiniLM.Load(normalizer: Normalizer.Entmax15);
        var sparse = TemperatureCalibration.Calibrate(floored.Encoder, fixture.Model.Encoder, batch.Ids, batch.RealTokens, grid, minSparsity: 0.8);
        for (int l = 0; l < 6; l++)
            for (int h = 0; h < 12; h++)
            {
                Assert.True(sparse.SparsityAfter[l][h] >= 0.8 || sparse.Scale[l][h] == 1.0, $"layer {l} head {h}: {sparse.SparsityAfter[l][h]:P1} zeros at s = {sparse.Scale[l][h]}");
                if (l == 0) Assert.True(sparse.Scale[l][h] >= result.Scale[l][h], "a sparsity floor never asks for a flatter map than the unconstrained choice (layer 0: same inputs)");
            }
        Assert.True(sparse.SparsityAfter.SelectMany(z => z).Average() > result.SparsityAfter.SelectMany(z => z).Average());
        Assert.Contains("minSparsity", Assert.Throws<ArgumentOutOfRangeException>(() => TemperatureCalibration.Calibrate(floored.Encoder, fixture.Model.Encoder, batch.Ids, batch.RealTokens, grid, minSparsity: 1.0)).Message);
        Assert.Throws<ArgumentException>(() => TemperatureCalibration.Calibrate(fixture.Model.Encoder, fixture.Model.Encoder, batch.Ids, batch.RealTokens));
        Assert.Contains("grid", Assert.Throws<ArgumentException>(() => TemperatureCalibration.Calibrate(entmax.Encoder, fixture.Model.Encoder, batch.Ids, batch.RealTokens, [0.5, -1])).Message);
    }

    [Fact]
    public void Queries_and_keys_reproduce_the_maps_and_a_routed_core_over_every_pair_changes_nothing()
    {
        using var entmax = MiniLM.Load(normalizer: Normalizer.Entmax15);
        using var batch = Batch();
        var layers = entmax.Encoder.QueriesAndKeys(batch.Ids, batch.RealTokens);
        Assert.Equal(6, layers.Count);
        var mask = new AttentionMask { KeyPadding = batch.RealTokens };
        foreach (var (q, k, p) in layers)
        {
            Assert.Equal(new long[] { 4, 12, batch.Ids.shape[1], 32 }, q.shape);
            var again = ScaledDotProductAttention.Naive(q, k, k, mask, Normalizer.Entmax15).Probabilities!;
            Assert.True(again.allclose(p, 1e-5, 1e-6), "q, k are what the core normalised");
        }
        var dense = entmax.Encoder.Forward(batch.Ids, batch.RealTokens).Output;
        for (int l = 0; l < 6; l++) entmax.Encoder.UseAttention(l, new SparsefinderAttention(PatternPredictor.SlidingWindow(1000)));
        var routed = entmax.Encoder.Forward(batch.Ids, batch.RealTokens).Output;
        var real = batch.RealTokens.unsqueeze(-1);
        Assert.True(routed.mul(real).allclose(dense.mul(real), 1e-4, 1e-4), "routing over every valid pair is dense entmax");
        for (int l = 0; l < 6; l++) entmax.Encoder.UseAttention(l, new SparsefinderAttention(PatternPredictor.SlidingWindow(0)));
        Assert.False(entmax.Encoder.Forward(batch.Ids, batch.RealTokens).Output.mul(real).allclose(dense.mul(real), 1e-3, 1e-3), "a diagonal graph changes the output");
        for (int l = 0; l < 6; l++) entmax.Encoder.UseAttention(l, null);
        Assert.True(entmax.Encoder.Forward(batch.Ids, batch.RealTokens).Output.allclose(dense, 1e-6, 1e-6), "null restores the model's own core");
        Assert.Throws<ArgumentOutOfRangeException>(() => entmax.Encoder.UseAttention(6, null));
    }
}
