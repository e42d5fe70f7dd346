using EfficientAttention;

namespace EfficientAttention.Tests;

public class MultiHeadAttentionTests
{
    private static MultiHeadAttention Make(IAttention core, long seed = 1)
    {
        manual_seed(seed);
        return new MultiHeadAttention(12, 3, core).to(ScalarType.Float64);
    }

    [Fact]
    public void Equals_a_hand_written_projection_split_attend_merge()
    {
        var mha = Make(new ScaledDotProductAttention(Normalizer.Sparsemax));
        var x = TestTensors.Randn(2, 2, 6, 12);
        var p = mha.named_parameters().ToDictionary(n => n.name, n => n.parameter);
        Tensor Heads(string name) => x.matmul(p[$"{name}.weight"].t()).add(p[$"{name}.bias"]).view(2, 6, 3, 4).transpose(1, 2);
        var scores = Heads("query").matmul(Heads("key").transpose(-2, -1)) / 2.0;     // √(12/3) = 2
        var merged = Normalizers.Sparsemax(scores).matmul(Heads("value")).transpose(1, 2).reshape(2, 6, 12);
        var expected = merged.matmul(p["output.weight"].t()).add(p["output.bias"]);
        TestTensors.Close(TestTensors.ToArray(expected), TestTensors.ToArray(mha.call(x)), 1e-12, "MHA");
    }

    [Fact]
    public void Returns_probabilities_that_match_its_output()
    {
        var mha = Make(new ScaledDotProductAttention(Normalizer.Entmax15));
        var x = TestTensors.Randn(3, 2, 6, 12);
        var (output, p) = mha.Forward(x, AttentionMask.CausalOnly, withProbabilities: true);
        Assert.Equal(new long[] { 2, 3, 6, 6 }, p!.shape);
        TestTensors.Close(TestTensors.ToArray(mha.Forward(x, AttentionMask.CausalOnly).Output), TestTensors.ToArray(output), 1e-12, "same output");
        Assert.All(TestTensors.ToArray(p.sum(-1)), s => Assert.Equal(1.0, s, 1e-12));
        Assert.All(TestTensors.ToArray(p.triu(1)), s => Assert.Equal(0.0, s));                  // causal: nothing above the diagonal
    }

    [Fact]
    public void Is_permutation_equivariant_over_the_sequence_without_a_mask()
    {
        var mha = Make(new ScaledDotProductAttention());
        var x = TestTensors.Randn(4, 2, 6, 12);
        var perm = randperm(6, generator: new Generator(2));
        TestTensors.Close(TestTensors.ToArray(mha.call(x).index_select(1, perm)), TestTensors.ToArray(mha.call(x.index_select(1, perm))), 1e-12, "equivariance");
    }

    [Fact]
    public void Gradients_reach_every_projection()
    {
        var mha = Make(new ScaledDotProductAttention(Normalizer.Entmax15));
        mha.call(TestTensors.Randn(5, 2, 6, 12)).square().sum().backward();
        foreach (var (name, parameter) in mha.named_parameters())
            Assert.True(parameter.grad is not null && parameter.grad.abs().sum().item<double>() > 0, $"no gradient for {name}");
    }

    [Fact]
    public void A_core_without_probabilities_is_reported_clearly()
    {
        var mha = Make(new OutputOnly());
        var e = Assert.Throws<NotSupportedException>(() => mha.Forward(TestTensors.Randn(6, 1, 4, 12), withProbabilities: true));
        Assert.Contains(nameof(OutputOnly), e.Message);
        Assert.Equal(new long[] { 1, 4, 12 }, mha.call(TestTensors.Randn(6, 1, 4, 12)).shape);
    }

    private sealed class OutputOnly : IAttention
    {
        public bool ProvidesProbabilities => false;
        public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
            => withProbabilities ? throw new NotSupportedException($"{nameof(OutputOnly)} forms no probabilities") : new(ScaledDotProductAttention.Fused(q, k, v, mask));
    }
}
