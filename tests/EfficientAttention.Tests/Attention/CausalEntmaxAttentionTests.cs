using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>
/// Causal 1.5-entmax attention as one autograd function (the mask in the kernel, products over the support of p)
/// against the double-precision reference, the unfused path (mask with −∞, Entmax15, dense matmuls) and finite differences.
/// </summary>
public class CausalEntmaxAttentionTests
{
    private const long B = 2, H = 3, D = 8, Dv = 5;

    /// <summary>q, k, v with scores of spread <paramref name="scale"/>: large gives a few keys per row, small a flat, wide support.</summary>
    private static (Tensor Q, Tensor K, Tensor V) Inputs(long seed, long lq, long lk, double scale, ScalarType dtype = ScalarType.Float64) =>
        ((TestTensors.Randn(seed, B, H, lq, D) * scale).to(dtype), (TestTensors.Randn(seed + 1, B, H, lk, D) * scale).to(dtype), TestTensors.Randn(seed + 2, B, H, lk, Dv).to(dtype));

    /// <summary>The path without the fusion: scores masked with −∞, Entmax15, libtorch matmuls.</summary>
    private static AttentionResult Unfused(Tensor q, Tensor k, Tensor v) =>
        ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, s => Normalizers.Entmax15(s));

    public static TheoryData<long, long, double, bool> Shapes => new()
    {
        { 9, 9, 3.0, true }, { 9, 9, 3.0, false },          // square, sparse rows, both strategies
        { 12, 7, 2.0, true }, { 5, 11, 2.0, true },         // more queries than keys, and fewer
        { 40, 40, 0.2, true }, { 40, 40, 0.2, false },      // flat scores: supports of tens of keys
        { 33, 33, 1.0, true },                               // rows not a multiple of the SIMD width
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Output_and_maps_equal_the_reference_per_head(long lq, long lk, double scale, bool sparse)
    {
        var (q, k, v) = Inputs(3, lq, lk, scale);
        var (output, p) = CausalEntmaxAttentionFunction.Apply(q, k, v, sparse);
        var causal = new bool[lq, lk];
        for (int i = 0; i < lq; i++) for (int j = 0; j <= Math.Min(i, lk - 1); j++) causal[i, j] = true;
        for (long b = 0; b < B; b++)
            for (long h = 0; h < H; h++)
            {
                var (refOut, refP) = Reference.Attention(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), TestTensors.Slice(v, b, h), causal, Reference.Entmax15);
                TestTensors.Close(TestTensors.Flat(refP), TestTensors.Flat(TestTensors.Slice(p, b, h)), 1e-12, $"P[{b},{h}]");
                TestTensors.Close(TestTensors.Flat(refOut), TestTensors.Flat(TestTensors.Slice(output, b, h)), 1e-12, $"out[{b},{h}]");
            }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Gradients_equal_the_unfused_path(long lq, long lk, double scale, bool sparse)
    {
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            var (q, k, v) = Inputs(5, lq, lk, scale, dtype);
            var upstream = TestTensors.Randn(7, B, H, lq, Dv).to(dtype);
            var grads = new List<double[]>[2];
            for (int path = 0; path < 2; path++)
            {
                var (qq, kk, vv) = (q.detach().requires_grad_(true), k.detach().requires_grad_(true), v.detach().requires_grad_(true));
                var output = path == 0 ? CausalEntmaxAttentionFunction.Apply(qq, kk, vv, sparse).Output : Unfused(qq, kk, vv).Output;
                (output * upstream).sum().backward();
                grads[path] = [TestTensors.ToArray(output), TestTensors.ToArray(qq.grad!), TestTensors.ToArray(kk.grad!), TestTensors.ToArray(vv.grad!)];
            }
            double tolerance = dtype == ScalarType.Float64 ? 1e-12 : 2e-5;
            foreach (var (what, index) in new[] { ("output", 0), ("dq", 1), ("dk", 2), ("dv", 3) })
                TestTensors.Close(grads[1][index], grads[0][index], tolerance, $"{what}, {dtype}, sparse = {sparse}");
        }
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 0)]
    [InlineData(false, 1)]
    [InlineData(false, 2)]
    public void Backward_matches_finite_differences(bool sparse, int which)
    {
        var (q, k, v) = Inputs(9, 6, 6, 1.5);
        Tensor Output(Tensor x) => CausalEntmaxAttentionFunction.Apply(which == 0 ? x : q, which == 1 ? x : k, which == 2 ? x : v, sparse).Output;
        var result = GradCheck.Check(Output, new[] { q, k, v }[which], eps: 1e-7);
        Assert.True(result.Passed, $"input {"qkv"[which]}, sparse = {sparse}: {result}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_loss_on_the_maps_takes_the_dense_backward_and_matches_finite_differences(bool sparse)
    {
        var (q, k, v) = Inputs(13, 6, 6, 1.5);
        var mapWeights = TestTensors.Randn(14, B, H, 6, 6);
        foreach (var which in new[] { 0, 1 })                                       // v gets no gradient from p
        {
            Tensor Both(Tensor x)
            {
                var (output, p) = CausalEntmaxAttentionFunction.Apply(which == 0 ? x : q, which == 1 ? x : k, v, sparse);
                return output.sum(new long[] { -1 }).unsqueeze(-1) + (p * mapWeights).sum(new long[] { -1 }).unsqueeze(-1);
            }
            var result = GradCheck.Check(Both, new[] { q, k }[which], eps: 1e-7);
            Assert.True(result.Passed, $"input {"qk"[which]}, sparse = {sparse}: {result}");
        }
    }

    [Fact]
    public void Naive_attention_with_the_causal_mask_alone_is_the_fused_function()
    {
        var (q, k, v) = Inputs(17, 8, 8, 2.0, ScalarType.Float32);
        var naive = ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Entmax15);
        var fused = CausalEntmaxAttentionFunction.Apply(q, k, v);
        Assert.True(naive.Output.eq(fused.Output).all().item<bool>() && naive.Probabilities!.eq(fused.P).all().item<bool>(), "the same computation, bit for bit");
        TestTensors.Close(TestTensors.ToArray(Unfused(q, k, v).Output), TestTensors.ToArray(naive.Output), 1e-6, "fused vs unfused");
        var padded = new AttentionMask { Causal = true, KeyPadding = ones(B, 8, ScalarType.Bool) };            // not the causal mask alone
        var general = ScaledDotProductAttention.Naive(q, k, v, padded, Normalizer.Entmax15);
        Assert.True(general.Output.eq(ScaledDotProductAttention.Naive(q, k, v, padded, s => Normalizers.Entmax15(s)).Output).all().item<bool>());
    }

    [Fact]
    public void Causal_pairs_count_the_triangle_and_the_rows_past_it()
    {
        Assert.Equal(2 * 10.0, CausalEntmaxAttentionFunction.CausalPairs(2, 4, 4));          // 1 + 2 + 3 + 4 per slice
        Assert.Equal(10 + 2 * 4.0, CausalEntmaxAttentionFunction.CausalPairs(1, 6, 4));      // two rows past Lk see all 4
        Assert.Equal(6.0, CausalEntmaxAttentionFunction.CausalPairs(1, 3, 8));               // keys past Lq never seen
    }
}
