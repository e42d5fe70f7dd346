using EfficientAttention;

namespace EfficientAttention.Tests;

public class ScaledDotProductAttentionTests
{
    private const long B = 2, H = 3, Lq = 7, Lk = 9, D = 5, Dv = 4;

    public static TheoryData<string> Normalizers => new() { "softmax", "sparsemax", "entmax15", "bisect-1.25" };

    private static Normalizer Pick(string name) => name switch
    {
        "softmax" => Normalizer.Softmax,
        "sparsemax" => Normalizer.Sparsemax,
        "entmax15" => Normalizer.Entmax15,
        _ => Normalizer.EntmaxBisect(1.25, iterations: 80),
    };

    private static (Tensor Q, Tensor K, Tensor V) Inputs(long seed, long lq = Lq, long lk = Lk, ScalarType dtype = ScalarType.Float64)
        => ((TestTensors.Randn(seed, B, H, lq, D) * 2).to(dtype), (TestTensors.Randn(seed + 1, B, H, lk, D) * 2).to(dtype), TestTensors.Randn(seed + 2, B, H, lk, Dv).to(dtype));

    /// <summary>Key padding (B, Lk) with batch 1 shorter, and a random graph that leaves query 0 of every head empty.</summary>
    private static AttentionMask FullMask(long lq = Lq, long lk = Lk)
    {
        var padding = ones(B, lk, ScalarType.Bool);
        padding[1, TensorIndex.Slice(lk - 3)] = tensor(false);
        var graph = rand(new long[] { B, H, lq, lk }, generator: new Generator(5)).gt(0.3);
        graph[TensorIndex.Colon, TensorIndex.Colon, 0] = tensor(false);                       // a fully masked query
        return new AttentionMask { Causal = true, KeyPadding = padding, Allowed = graph };
    }

    private static bool[,] DenseSlice(AttentionMask mask, long b, long h, long lq, long lk)
    {
        var dense = mask.ToDense(B, H, lq, lk, CPU)!.expand(B, H, lq, lk)[b, h].contiguous();
        var data = dense.data<bool>().ToArray();
        var r = new bool[lq, lk];
        for (int i = 0; i < lq; i++) for (int j = 0; j < lk; j++) r[i, j] = data[i * lk + j];
        return r;
    }

    [Theory, MemberData(nameof(Normalizers))]
    public void Naive_attention_matches_the_reference_per_head(string normalizer)
    {
        var (q, k, v) = Inputs(11);
        var mask = FullMask();
        var (output, p) = ScaledDotProductAttention.Naive(q, k, v, mask, Pick(normalizer));
        var oracle = NormalizerOracleTests.Oracle(normalizer);
        for (long b = 0; b < B; b++)
            for (long h = 0; h < H; h++)
            {
                var (refOut, refP) = Reference.Attention(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), TestTensors.Slice(v, b, h), DenseSlice(mask, b, h, Lq, Lk), oracle);
                TestTensors.Close(TestTensors.Flat(refP), TestTensors.Flat(TestTensors.Slice(p!, b, h)), 1e-9, $"P[{b},{h}]");
                TestTensors.Close(TestTensors.Flat(refOut), TestTensors.Flat(TestTensors.Slice(output, b, h)), 1e-9, $"out[{b},{h}]");
            }
    }

    [Fact]
    public void Fused_path_equals_naive_path_for_every_kind_of_mask()
    {
        var (q, k, v) = Inputs(21, lq: Lk);                                         // square, so causal is meaningful
        var padding = ones(B, Lk, ScalarType.Bool); padding[0, TensorIndex.Slice(5)] = tensor(false);
        var graph = rand(new long[] { 1, H, Lk, Lk }, generator: new Generator(3)).gt(0.5);
        var masks = new (string Name, AttentionMask? Mask)[]
        {
            ("none", null), ("causal", AttentionMask.CausalOnly), ("padding", new() { KeyPadding = padding }),
            ("graph", new() { Allowed = graph }), ("all", FullMask(Lk, Lk)),
        };
        foreach (var (name, mask) in masks)
            foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
            {
                var fused = ScaledDotProductAttention.Fused(q.to(dtype), k.to(dtype), v.to(dtype), mask);
                var (naive, _) = ScaledDotProductAttention.Naive(q.to(dtype), k.to(dtype), v.to(dtype), mask, Normalizer.Softmax);
                TestTensors.Close(TestTensors.ToArray(naive), TestTensors.ToArray(fused), dtype == ScalarType.Float64 ? 1e-12 : 1e-5, $"{name} {dtype}");
            }
    }

    [Theory, MemberData(nameof(Normalizers))]
    public void Fully_masked_queries_give_zero_output_and_finite_gradients(string normalizer)
    {
        var (q, k, v) = Inputs(31);
        var mask = FullMask();
        foreach (var core in new[] { new ScaledDotProductAttention(Pick(normalizer)), new ScaledDotProductAttention(Pick(normalizer), useFusedKernel: false) })
        {
            var (qg, kg, vg) = (q.clone().requires_grad_(true), k.clone().requires_grad_(true), v.clone().requires_grad_(true));
            var output = core.Forward(qg, kg, vg, mask).Output;                               // (B, H, Lq, Dv)
            Assert.All(TestTensors.ToArray(output[TensorIndex.Colon, TensorIndex.Colon, 0]), x => Assert.Equal(0.0, x));
            output.square().sum().backward();
            foreach (var g in new[] { qg.grad!, kg.grad!, vg.grad! })
                Assert.True(g.isfinite().all().item<bool>(), "gradient has NaN or inf");
            Assert.All(TestTensors.ToArray(qg.grad![TensorIndex.Colon, TensorIndex.Colon, 0]), x => Assert.Equal(0.0, x));
        }
    }

    [Theory, MemberData(nameof(Normalizers))]
    public void Attention_gradients_match_finite_differences(string normalizer)
    {
        var (q, k, v) = Inputs(41, lq: 4, lk: 5);
        var mask = new AttentionMask { Causal = true };
        var core = new ScaledDotProductAttention(Pick(normalizer));
        foreach (var which in new[] { 0, 1, 2 })
        {
            var result = GradCheck.Check(x => which switch
            {
                0 => core.Forward(x, k, v, mask).Output,
                1 => core.Forward(q, x, v, mask).Output,
                _ => core.Forward(q, k, x, mask).Output,
            }, new[] { q, k, v }[which], eps: 1e-7);
            Assert.True(result.Passed, $"{normalizer}, input {"qkv"[which]}: {result}");
        }
    }

    [Theory, MemberData(nameof(Normalizers))]
    public void Permuting_keys_and_values_together_leaves_the_output_unchanged(string normalizer)
    {
        var (q, k, v) = Inputs(51);
        var core = new ScaledDotProductAttention(Pick(normalizer));
        var perm = randperm(Lk, generator: new Generator(9));
        var expected = core.Forward(q, k, v).Output;
        var permuted = core.Forward(q, k.index_select(2, perm), v.index_select(2, perm)).Output;
        TestTensors.Close(TestTensors.ToArray(expected), TestTensors.ToArray(permuted), 1e-12, "keys permuted");
    }

    [Theory, MemberData(nameof(Normalizers))]
    public void Permuting_queries_permutes_the_output(string normalizer)
    {
        var (q, k, v) = Inputs(61);
        var core = new ScaledDotProductAttention(Pick(normalizer));
        var perm = randperm(Lq, generator: new Generator(4));
        var expected = core.Forward(q, k, v).Output.index_select(2, perm);
        TestTensors.Close(TestTensors.ToArray(expected), TestTensors.ToArray(core.Forward(q.index_select(2, perm), k, v).Output), 1e-12, "queries permuted");
    }

    [Fact]
    public void Causal_attention_does_not_see_the_future()
    {
        var (q, k, v) = Inputs(71, lq: Lk);
        foreach (var core in new IAttention[] { new ScaledDotProductAttention(), new ScaledDotProductAttention(Normalizer.Entmax15) })
        {
            var before = core.Forward(q, k, v, AttentionMask.CausalOnly).Output;
            var (k2, v2) = (k.clone(), v.clone());
            k2[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(5)] = tensor(7.0);   // change positions ≥ 5
            v2[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(5)] = tensor(-3.0);
            var after = core.Forward(q, k2, v2, AttentionMask.CausalOnly).Output;
            var prefix = TensorIndex.Slice(0, 5);
            TestTensors.Close(TestTensors.ToArray(before[.., .., prefix]), TestTensors.ToArray(after[.., .., prefix]), 0, "outputs 0..4");
            Assert.False(TestTensors.MaxAbsDiff(TestTensors.ToArray(before[.., .., TensorIndex.Slice(5)]), TestTensors.ToArray(after[.., .., TensorIndex.Slice(5)])) < 1e-6, "later outputs must change");
        }
    }

    [Fact]
    public void Probabilities_are_rows_of_the_simplex_and_reproduce_the_output()
    {
        var (q, k, v) = Inputs(81);
        var (output, p) = new ScaledDotProductAttention(Normalizer.Entmax15).Forward(q, k, v, FullMask(), withProbabilities: true);
        var sums = TestTensors.ToArray(p!.sum(-1));                                             // (B, H, Lq)
        var rowsWithKeys = TestTensors.ToArray(FullMask().ToDense(B, H, Lq, Lk, CPU)!.expand(B, H, Lq, Lk).any(-1).to(ScalarType.Float64));
        for (int i = 0; i < sums.Length; i++) Assert.Equal(rowsWithKeys[i], sums[i], 1e-12);
        TestTensors.Close(TestTensors.ToArray(p.matmul(v)), TestTensors.ToArray(output), 1e-12, "P V");
    }
}
