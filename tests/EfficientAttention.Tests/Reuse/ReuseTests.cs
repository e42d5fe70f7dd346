using EfficientAttention;
using TorchSharp.Modules;

namespace EfficientAttention.Tests;

public class ReuseTests
{
    private static Tensor X(long seed, long b = 2, long l = 6, long d = 12) => TestTensors.Randn(seed, b, l, d);

    [Fact]
    public void K_zero_is_standard_multi_head_attention_with_full_width_projections()
    {
        manual_seed(1);
        var standard = new MultiHeadAttention(12, 3, new ScaledDotProductAttention(Normalizer.Softmax, useFusedKernel: false)).to(ScalarType.Float64);
        var reuse = new MultiHeadAttention(12, 3, reusedHeads: 0).to(ScalarType.Float64);
        Assert.False(reuse.ReusesPrevious);
        Assert.Equal(new long[] { 12, 12 }, reuse.get_parameter("query.weight")!.shape);
        using (no_grad())
            foreach (var (name, parameter) in standard.named_parameters())
                reuse.get_parameter(name)!.copy_(parameter);                            // same weights, same names
        var x = X(2);
        var (expected, pExpected) = standard.Forward(x, AttentionMask.CausalOnly, withProbabilities: true);
        var (actual, pActual) = reuse.Forward(x, AttentionMask.CausalOnly, withProbabilities: true);
        Assert.True(expected.eq(actual).all().item<bool>(), "outputs differ");
        Assert.True(pExpected!.eq(pActual!).all().item<bool>(), "probabilities differ");
        TestTensors.Close(TestTensors.ToArray(expected), TestTensors.ToArray(reuse.Forward(x, AttentionMask.CausalOnly).Output), 1e-12, "fused path without P");
    }

    [Fact]
    public void Reused_heads_apply_and_hand_on_exactly_the_earlier_maps()
    {
        var earlier = new MultiHeadAttention(12, 3, reusedHeads: 0).to(ScalarType.Float64);
        var later = new MultiHeadAttention(12, 3, reusedHeads: 2).to(ScalarType.Float64);
        var x = X(3);
        var (_, p0) = earlier.Forward(x, withProbabilities: true);                               // (B, 3, L, L)
        var (_, p1) = later.Forward(X(4), previous: p0, withProbabilities: true);
        Assert.True(p1![.., 1..].eq(p0![.., ..2]).all().item<bool>(), "reused maps must be the first K handed over, unchanged");
        Assert.False(p1[.., 0].eq(p0[.., 0]).all().item<bool>(), "the new head computes its own map");
    }

    [Fact]
    public void Reused_heads_have_no_query_or_key_parameters()
    {
        var partial = new MultiHeadAttention(12, 3, reusedHeads: 2);
        Assert.Equal(new long[] { 4, 12 }, partial.get_parameter("query.weight")!.shape);   // one new head of width 4
        Assert.Equal(new long[] { 4, 12 }, partial.get_parameter("key.weight")!.shape);
        Assert.Equal(new long[] { 12, 12 }, partial.get_parameter("value.weight")!.shape);  // every head keeps its V
        var all = new MultiHeadAttention(12, 3, reusedHeads: -1);
        Assert.DoesNotContain(all.named_parameters(), p => p.name.StartsWith("query") || p.name.StartsWith("key"));
        Assert.Equal(3, all.ReusedHeads);
    }

    [Fact]
    public void Gradient_reaches_the_earlier_layer_through_the_reused_maps()
    {
        var earlier = new MultiHeadAttention(12, 3, reusedHeads: 0).to(ScalarType.Float64);
        var later = new MultiHeadAttention(12, 3, reusedHeads: -1).to(ScalarType.Float64);
        var (_, p0) = earlier.Forward(X(5), withProbabilities: true);
        var (y, _) = later.Forward(X(6), previous: p0);                                // the only path to `earlier` is P
        y.square().sum().backward();
        Assert.True(earlier.get_parameter("query.weight")!.grad!.abs().sum().item<double>() > 0, "no gradient to the earlier Q");
        Assert.True(earlier.get_parameter("value.weight")!.grad is null, "V of the earlier layer is not on this path");
    }

    [Fact]
    public void A_reuse_model_is_still_causal_and_reuses_as_its_policy_says()
    {
        var config = ReusePolicy.FirstHalf(layers: 4, reusedHeads: 2).Apply(new TransformerConfig(4, 4, 16, 32, MaxLength: 16));
        manual_seed(3);
        var lm = new CausalLanguageModel(config, 9);
        Assert.Equal([0, 2, 0, 0], lm.Stack.Blocks.Select(b => b.Attention.ReusedHeads));
        var tokens = randint(0, 9, new long[] { 2, 10 }, generator: new Generator(1));
        var changed = tokens.clone(); changed[.., 6..] = (changed[.., 6..] + 1) % 9;
        TestTensors.Close(TestTensors.ToArray(lm.call(tokens)[.., ..6]), TestTensors.ToArray(lm.call(changed)[.., ..6]), 1e-5, "logits before position 6");
        var (_, maps) = lm.Forward(tokens, withProbabilities: true);
        Assert.True(maps![1][.., 2..].eq(maps[0][.., ..2]).all().item<bool>(), "layer 1 reuses layer 0's first two maps");
    }

    [Fact]
    public void Similarity_matches_a_hand_computed_example()
    {
        // Two queries over three keys. Head a vs head b: rows (1,0,0) vs (0.5,0.5,0): TV 0.5 → 0.5;
        // rows (0,0.5,0.5) vs (0,0.5,0.5): TV 0 → 1. Mean over queries: 0.75. Each head with itself: 1.
        var a = tensor(new double[] { 1, 0, 0, 0, 0.5, 0.5 }).view(1, 1, 2, 3);
        var b = tensor(new double[] { 0.5, 0.5, 0, 0, 0.5, 0.5 }).view(1, 1, 2, 3);
        Assert.Equal(0.75, ReuseAnalysis.HeadSimilarity(a, b).item<double>(), 12);
        var both = cat([a, b], 1);                                                     // (1, 2, 2, 3)
        var s = ReuseAnalysis.HeadSimilarity(both, both);
        Assert.Equal([1.0, 0.75, 0.75, 1.0], TestTensors.ToArray(s));
        Assert.Equal([0.75, 1.0], TestTensors.ToArray(ReuseAnalysis.BestMatch(both, b)));             // a's best in b is 0.75
    }

    [Fact]
    public void Analytic_cost_counts_what_reuse_removes()
    {
        var full = ReuseAnalysis.Cost(n: 100, d: 64, heads: 4, reused: 0);
        var none = ReuseAnalysis.Cost(n: 100, d: 64, heads: 4, reused: 4);
        // K = H removes the Q,K projections (2·2·N·D²), Q·Kᵀ (2·N²·D) and softmax (5·N²·H): exactly that difference.
        Assert.Equal(2.0 * 2 * 100 * 64 * 64 + 2.0 * 100 * 100 * 64 + 5.0 * 100 * 100 * 4, full.Flops - none.Flops, 6);
        Assert.Equal(0, none.MapBytes);
        Assert.InRange(none.SavingAgainst(full), 0.3, 0.7);
    }

    [Fact]
    public void The_uniform_control_hands_uniform_maps_over_the_allowed_keys()
    {
        var config = new ReusePolicy(2, LastLayer: 2) { Uniform = true }.Apply(new TransformerConfig(3, 4, 16, 32, MaxLength: 8));
        var lm = new CausalLanguageModel(config, 9, seed: 2);
        var (_, maps) = lm.Forward(randint(0, 9, new long[] { 2, 5 }, generator: new Generator(4)), withProbabilities: true);
        var expected = tril(ones(5, 5, dtype: ScalarType.Float32)) / arange(1, 6, dtype: ScalarType.Float32).view(5, 1);   // row i: 1/(i+1) on j ≤ i
        for (int layer = 1; layer < 3; layer++)
            TestTensors.Close(TestTensors.ToArray(maps![layer][.., 2..]), TestTensors.ToArray(expected.expand(2, 2, 5, 5)), 1e-7, $"layer {layer}'s reused heads");
        Assert.False(maps![1][.., ..2].allclose(expected.expand(2, 2, 5, 5)), "the layer's own heads still compute their maps");
        Assert.Contains("uniform maps", new ReusePolicy(2, LastLayer: 2) { Uniform = true }.ToString());
    }

    [Fact]
    public void Adjacent_and_non_adjacent_similarity_and_stack_flops()
    {
        double[][] s = [[1, 0.9, 0.5, 0.4], [0.8, 1, 0.7, 0.3], [0.5, 0.6, 1, 0.2], [0.4, 0.3, 0.1, 1]];
        Assert.Equal((0.9 + 0.8 + 0.7 + 0.6 + 0.2 + 0.1) / 6, ReuseAnalysis.Adjacent(s), 12);
        Assert.Equal((0.5 + 0.4 + 0.3 + 0.5 + 0.3 + 0.4) / 6, ReuseAnalysis.NonAdjacent(s), 12);
        Assert.True(double.IsNaN(ReuseAnalysis.NonAdjacent([[1, 0.5], [0.5, 1]])));
        var baseline = new TransformerConfig(2, 4, 64, 128);
        double mlp = 2.0 * 2 * 10 * 64 * 128;
        Assert.Equal(2 * (ReuseAnalysis.Cost(10, 64, 4, 0).Flops + mlp), ReuseAnalysis.StackFlops(baseline, 10), 6);
        var reuse = new ReusePolicy(4, LastLayer: 1).Apply(baseline);
        Assert.Equal(ReuseAnalysis.Cost(10, 64, 4, 0).Flops + ReuseAnalysis.Cost(10, 64, 4, 4).Flops + 2 * mlp, ReuseAnalysis.StackFlops(reuse, 10), 6);
    }

    [Fact]
    public void Bad_reuse_settings_are_named()
    {
        Assert.Equal("reusedHeads", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiHeadAttention(12, 3, reusedHeads: 4)).ParamName);
        Assert.Equal("reusedHeads", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiHeadAttention(12, 3, reusedHeads: -2)).ParamName);
        var noMaps = Assert.Throws<ArgumentNullException>(() => new MultiHeadAttention(12, 3, reusedHeads: 1).Forward(X(7).to(ScalarType.Float32)));
        Assert.Contains("layer 0 cannot reuse", noMaps.Message);
        var fewHeads = Assert.Throws<ArgumentException>(() => new MultiHeadAttention(12, 3, reusedHeads: 2).Forward(X(7).to(ScalarType.Float32), previous: zeros(2, 1, 6, 6)));
        Assert.Contains("(2, 1, 6, 6)", fewHeads.Message);
        Assert.Contains("layer 0 cannot reuse", Assert.Throws<ArgumentOutOfRangeException>(() => new ReusePolicy(1, LastLayer: 2, FirstLayer: 0).Apply(new TransformerConfig(4, 4, 16, 32))).Message);
        Assert.Contains("K = 5", Assert.Throws<ArgumentOutOfRangeException>(() => new ReusePolicy(5, LastLayer: 2).Apply(new TransformerConfig(4, 4, 16, 32))).Message);
    }
}
