using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>Each bad input gives an ArgumentException naming the argument, what was received, and what was expected.</summary>
public class GuardTests
{
    private static void Rejects(Action call, string parameter, params string[] messageParts)
    {
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
        foreach (var part in messageParts) Assert.Contains(part, e.Message);
    }

    private static Tensor Q(params long[] shape) => zeros(shape, ScalarType.Float32);

    [Fact] public void Normalizer_dim_out_of_range() => Rejects(() => Normalizers.Entmax15(Q(2, 3), dim: 2), "dim", "dim = 2", "rank 2", "-2 ≤ dim < 2");
    [Fact] public void Normalizer_negative_dim_out_of_range() => Rejects(() => Normalizers.Sparsemax(Q(2, 3), dim: -3), "dim", "dim = -3");
    [Fact] public void Normalizer_integer_dtype() => Rejects(() => Normalizers.Softmax(zeros(3, ScalarType.Int64)), "scores", "Int64", "Float32 or Float64");
    [Fact] public void Normalizer_scalar_tensor() => Rejects(() => Normalizers.Entmax15(tensor(1.0f)), "scores", "rank 0", "rank ≥ 1");
    [Fact] public void Entmax_alpha_one() => Rejects(() => Normalizers.EntmaxBisect(Q(3), 1.0), "alpha", "alpha = 1", "α > 1");
    [Fact] public void Entmax_alpha_below_one() => Rejects(() => Normalizers.EntmaxBisect(Q(3), 0.5), "alpha", "alpha = 0.5");
    [Fact] public void Entmax_alpha_nan() => Rejects(() => Normalizers.EntmaxBisect(Q(3), double.NaN), "alpha", "NaN");
    [Fact] public void Entmax_iterations() => Rejects(() => Normalizers.EntmaxBisect(Q(3), 1.5, iterations: 0), "iterations", "iterations = 0");
    [Fact] public void Normalizer_record_alpha() => Rejects(() => Normalizer.EntmaxBisect(1.0), "alpha", "α > 1");

    [Fact] public void Attention_wrong_rank() => Rejects(() => ScaledDotProductAttention.Naive(Q(2, 3, 5), Q(2, 1, 3, 5), Q(2, 1, 3, 5), null, Normalizer.Softmax), "q", "(2, 3, 5)", "rank 4", "(batch, heads, length, head dim)");
    [Fact] public void Attention_head_dim_mismatch() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(1, 2, 3, 4), Q(1, 2, 3, 4)), "k", "(1, 2, 3, 4)", "expected size 5 on axis 3");
    [Fact] public void Attention_batch_mismatch() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(2, 2, 3, 5), Q(2, 2, 3, 5)), "k", "expected size 1 on axis 0");
    [Fact] public void Attention_heads_mismatch() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(1, 2, 3, 5), Q(1, 3, 3, 5)), "v", "axis 1", "heads");
    [Fact] public void Attention_key_value_length_mismatch() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(1, 2, 4, 5), Q(1, 2, 6, 5)), "v", "(1, 2, 6, 5)", "key length");
    [Fact] public void Attention_dtype_mismatch() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(1, 2, 3, 5).to(ScalarType.Float64), Q(1, 2, 3, 5)), "k", "Float64", "Float32", "same dtype");
    [Fact] public void Attention_integer_values() => Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), Q(1, 2, 3, 5), zeros(new long[] { 1, 2, 3, 5 }, ScalarType.Int32)), "v", "Int32");

    [Fact]
    public void Attention_device_mismatch()
    {
        // A CPU-only machine has one device; the check is the same code for every pair, exercised with a fake "meta" tensor.
        var meta = empty(new long[] { 1, 2, 3, 5 }, ScalarType.Float32, device: new Device(DeviceType.META));
        Rejects(() => ScaledDotProductAttention.Fused(Q(1, 2, 3, 5), meta, Q(1, 2, 3, 5)), "k", "device meta", "same device");
    }

    [Fact]
    public void Mask_padding_of_the_wrong_shape()
        => Rejects(() => ScaledDotProductAttention.Fused(Q(2, 1, 3, 5), Q(2, 1, 3, 5), Q(2, 1, 3, 5), new AttentionMask { KeyPadding = ones(2, 4, ScalarType.Bool) }),
                   "mask", "KeyPadding", "(2, 4)", "(2, 3) = (B, Lk)");

    [Fact]
    public void Mask_graph_not_boolean()
        => Rejects(() => ScaledDotProductAttention.Naive(Q(2, 1, 3, 5), Q(2, 1, 3, 5), Q(2, 1, 3, 5), new AttentionMask { Allowed = ones(3, 3) }, Normalizer.Entmax15),
                   "mask", "Allowed", "Float32", "broadcastable to (2, 1, 3, 3)");

    [Fact]
    public void Mask_graph_not_broadcastable()
        => Rejects(() => ScaledDotProductAttention.Fused(Q(2, 1, 3, 5), Q(2, 1, 3, 5), Q(2, 1, 3, 5), new AttentionMask { Allowed = ones(new long[] { 3, 1, 3, 3 }, ScalarType.Bool) }),
                   "mask", "(3, 1, 3, 3)");

    [Fact] public void Mha_model_dim_not_divisible() => Rejects(() => new MultiHeadAttention(10, 3, new ScaledDotProductAttention()), "modelDim", "modelDim = 10", "multiple of heads = 3");
    [Fact] public void Mha_zero_heads() => Rejects(() => new MultiHeadAttention(12, 0, new ScaledDotProductAttention()), "heads", "heads = 0");
    [Fact] public void Mha_wrong_width() => Rejects(() => new MultiHeadAttention(12, 3, new ScaledDotProductAttention()).call(Q(2, 4, 8)), "x", "(2, 4, 8)", "expected size 12 on axis 2");
    [Fact] public void Mha_wrong_rank() => Rejects(() => new MultiHeadAttention(12, 3, new ScaledDotProductAttention()).call(Q(4, 12)), "x", "rank 3", "(batch, length, model dim)");
    [Fact] public void GradCheck_eps() => Rejects(() => GradCheck.Check(x => x, Q(3).to(ScalarType.Float64), eps: 0), "eps", "eps = 0");
}
