using EfficientAttention;

namespace EfficientAttention.Tests;

public class ModelTests
{
    private static TransformerConfig Small(Func<int, IAttention>? attention = null) =>
        new(Layers: 2, Heads: 2, ModelDim: 16, MlpDim: 32, Dropout: 0, MaxLength: 64) { Attention = attention };

    private static Tensor Tokens(long seed, long batch, long length, int vocabulary) =>
        randint(0, vocabulary, new long[] { batch, length }, generator: new Generator((ulong)seed));

    [Fact]
    public void Language_model_gives_logits_per_position_and_ties_its_output_to_the_embedding()
    {
        manual_seed(1);
        var lm = new CausalLanguageModel(Small(), vocabularySize: 11);
        Assert.Equal(new long[] { 3, 9, 11 }, lm.call(Tokens(1, 3, 9, 11)).shape);
        // Tied: the only (V, D) matrix is the embedding; the output projection reuses it.
        Assert.Equal("embedding.weight", Assert.Single(lm.named_parameters(), p => p.parameter.shape.SequenceEqual(new long[] { 11, 16 })).name);
    }

    [Fact]
    public void Language_model_is_causal()
    {
        manual_seed(2);
        var lm = new CausalLanguageModel(Small(l => new ScaledDotProductAttention(Normalizer.Entmax15)), 11);
        var tokens = Tokens(2, 2, 12, 11);
        var changed = tokens.clone();
        changed[.., 8..] = (changed[.., 8..] + 1) % 11;                               // change positions ≥ 8
        var (a, b) = (lm.call(tokens), lm.call(changed));
        TestTensors.Close(TestTensors.ToArray(a[.., ..8]), TestTensors.ToArray(b[.., ..8]), 1e-6, "logits before position 8");
        Assert.True(TestTensors.MaxAbsDiff(TestTensors.ToArray(a[.., 8..]), TestTensors.ToArray(b[.., 8..])) > 1e-4, "later logits must change");
    }

    [Theory]
    [InlineData(Pooling.Mean)]
    [InlineData(Pooling.Cls)]
    public void Encoder_ignores_padding(Pooling pooling)
    {
        manual_seed(3);
        var encoder = new EncoderClassifier(Small(), vocabularySize: 16, classes: 10, pooling, padToken: 0);
        var tokens = Tokens(3, 2, 10, 15) + 1;                                        // no padding: ids 1…15
        var padded = cat([tokens, zeros(2, 6, ScalarType.Int64)], 1);                 // + 6 PAD tokens
        TestTensors.Close(TestTensors.ToArray(encoder.call(tokens)), TestTensors.ToArray(encoder.call(padded)), 1e-5, "padding changed the logits");
        Assert.Equal(new long[] { 2, 10 }, encoder.call(padded).shape);
    }

    [Fact]
    public void Vision_transformer_makes_49_patch_tokens_of_28x28_images()
    {
        manual_seed(4);
        var vit = new VisionTransformer(Small(), imageSize: 28, patchSize: 4, channels: 1, classes: 10);
        Assert.Equal(49, vit.PatchCount);
        var (logits, probabilities) = vit.Forward(rand(3, 1, 28, 28), withProbabilities: true);
        Assert.Equal(new long[] { 3, 10 }, logits.shape);
        Assert.Equal(new long[] { 2, 3, 2, 50, 50 }, probabilities!.shape);             // layers, B, H, CLS + 49 patches
    }

    [Fact]
    public void Each_layer_uses_its_factorys_attention_and_returns_its_probabilities_from_one_pass()
    {
        manual_seed(5);
        var lm = new CausalLanguageModel(Small(l => new ScaledDotProductAttention(l == 0 ? Normalizer.Softmax : Normalizer.Sparsemax)), 11);
        var tokens = Tokens(5, 2, 12, 11);
        var (logits, p) = lm.Forward(tokens, withProbabilities: true);
        TestTensors.Close(TestTensors.ToArray(lm.call(tokens)), TestTensors.ToArray(logits), 1e-6, "same logits with and without probabilities");
        Assert.Equal(2, p!.shape[0]);
        Assert.All(TestTensors.ToArray(p.sum(-1)), s => Assert.Equal(1.0, s, 1e-5));
        var lower = tril(ones(12, 12)).to(ScalarType.Bool);
        long positiveBelowDiagonal(Tensor layer) => layer.gt(0).logical_and(lower).sum().item<long>();
        Assert.Equal(2 * 2 * 78, positiveBelowDiagonal(p[0]));                         // softmax: full support on j ≤ i
        Assert.True(positiveBelowDiagonal(p[1]) < 2 * 2 * 78, "sparsemax layer should have exact zeros");
    }

    [Fact]
    public void A_layer_without_probabilities_says_so_when_they_are_asked_for()
    {
        var lm = new CausalLanguageModel(Small(l => l == 0 ? new FusedOnly() : new ScaledDotProductAttention()), 11);
        Assert.Contains(nameof(FusedOnly), Assert.Throws<NotSupportedException>(() => lm.Forward(Tokens(6, 1, 5, 11), withProbabilities: true)).Message);
        Assert.Equal(new long[] { 1, 5, 11 }, lm.call(Tokens(6, 1, 5, 11)).shape);
    }

    [Fact]
    public void Parameter_count_and_description()
    {
        var lm = new CausalLanguageModel(Small(), 11);
        // per block: 2 LN (2·2·16) + 4 projections (4·(16·16+16)) + MLP (16·32+32 + 32·16+16); + final LN, embedding, positions
        long perBlock = 2 * 2 * 16 + 4 * (16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16);
        Assert.Equal(2 * perBlock + 2 * 16 + 11 * 16 + 64 * 16, lm.ParameterCount);
        Assert.Contains("2 layers × 2 heads", lm.Description);
    }

    [Fact]
    public void Bad_model_inputs_are_named()
    {
        var lm = new CausalLanguageModel(Small(), 11);
        lm.eval();                                                                      // values are checked outside training
        var e = Assert.Throws<ArgumentException>(() => lm.call(full(new long[] { 1, 4 }, 11L)));
        Assert.Equal("tokens", e.ParamName);
        Assert.Contains("vocabularySize = 11", e.Message);
        Assert.Contains("MaxLength = 64", Assert.Throws<ArgumentException>(() => lm.call(zeros(new long[] { 1, 65 }, ScalarType.Int64))).Message);
        Assert.Contains("Int64", Assert.Throws<ArgumentException>(() => lm.call(zeros(1, 4))).Message);
        Assert.Equal("ModelDim", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerStack(Small() with { ModelDim = 15 })).ParamName);
    }

    private sealed class FusedOnly : IAttention
    {
        public bool ProvidesProbabilities => false;
        public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
            => withProbabilities ? throw new NotSupportedException($"{nameof(FusedOnly)} forms no probabilities") : new(ScaledDotProductAttention.Fused(q, k, v, mask));
    }

    [Fact]
    public void The_seed_alone_decides_the_initial_weights()
    {
        var config = new TransformerConfig(2, 2, 16, 32, MaxLength: 8);
        manual_seed(11);
        var a = new CausalLanguageModel(config, 7, seed: 5);
        manual_seed(12);                                                               // the global generator must not matter
        rand(100);
        var b = new CausalLanguageModel(config, 7, seed: 5);
        var c = new CausalLanguageModel(config, 7, seed: 6);
        foreach (var ((name, p), (_, q)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(p.eq(q).all().item<bool>(), $"{name} differs between two models of seed 5");
        Assert.False(a.named_parameters().Zip(c.named_parameters()).All(t => t.First.parameter.eq(t.Second.parameter).all().item<bool>()), "seeds 5 and 6 gave the same weights");
        var vitA = new VisionTransformer(new TransformerConfig(1, 2, 16, 32, MaxLength: 5), 8, 4, 1, 3, seed: 2);
        rand(10);
        var vitB = new VisionTransformer(new TransformerConfig(1, 2, 16, 32, MaxLength: 5), 8, 4, 1, 3, seed: 2);
        Assert.All(vitA.parameters().Zip(vitB.parameters()), t => Assert.True(t.First.eq(t.Second).all().item<bool>()));
    }

    [Fact]
    public void A_masked_language_model_sees_both_directions()
    {
        var mlm = new MaskedLanguageModel(new TransformerConfig(2, 2, 16, 32, MaxLength: 12), vocabularySize: 10, seed: 1);
        Assert.Equal(9, mlm.MaskToken);
        mlm.eval();                                                                  // token values are checked in eval mode
        var tokens = randint(0, 10, new long[] { 2, 12 }, generator: new Generator(2), dtype: ScalarType.Int64);
        var changed = tokens.clone(); changed[.., 11] = (changed[.., 11] + 1) % 10;
        using var _ = no_grad();
        var logits = mlm.call(tokens);
        Assert.Equal([2L, 12, 10], logits.shape);
        Assert.False(logits[.., 0].allclose(mlm.call(changed)[.., 0]), "position 0 must see the last token");
        var (_, maps) = mlm.Forward(tokens, withProbabilities: true);
        Assert.True(maps![0].triu(1).sum().item<float>() > 0, "attention above the diagonal (no causal mask)");
        Assert.Contains("vocabularySize", Assert.Throws<ArgumentException>(() => mlm.call(full(1, 4, 10L))).Message);
    }

    [Fact]
    public void A_masked_LM_warm_starts_from_a_causal_LM_and_refuses_another_stack()
    {
        var config = new TransformerConfig(2, 2, 16, 32, MaxLength: 12);
        var causal = new CausalLanguageModel(config, vocabularySize: 9, seed: 3);
        var mlm = new MaskedLanguageModel(config, vocabularySize: 10, seed: 4);
        mlm.WarmStartFrom(causal);
        var source = causal.state_dict();
        foreach (var (name, value) in mlm.state_dict())
            if (name.StartsWith("embedding")) Assert.True(value[..9].eq(source[name]).all().item<bool>(), "the symbols' rows are copied");
            else Assert.True(value.eq(source[name]).all().item<bool>(), $"{name} is copied");
        Assert.Contains("source.VocabularySize = 10", Assert.Throws<ArgumentException>(() => causal.WarmStartFrom(mlm)).Message);
        var deeper = new CausalLanguageModel(config with { Layers = 3 }, vocabularySize: 9, seed: 3);
        Assert.Contains("lacks", Assert.Throws<ArgumentException>(() => mlm.WarmStartFrom(deeper)).Message);
    }
}
