using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Attention(Q, K, V) = normalize(Q Kᵀ / √d) V with a pluggable normalizer (softmax, sparsemax, entmax) and masks.
/// Two paths that tests keep equal: <see cref="Naive(Tensor, Tensor, Tensor, AttentionMask?, Normalizer)"/> writes it out; <see cref="Fused"/> calls libtorch's
/// <c>scaled_dot_product_attention</c> (softmax only; memory-efficient on CPU). <see cref="Forward"/> takes the fused
/// path when it can.
/// </summary>
public sealed class ScaledDotProductAttention : IAttention
{
    public ScaledDotProductAttention(Normalizer? normalizer = null, bool useFusedKernel = true)
    {
        Normalizer = normalizer ?? Normalizer.Softmax;
        UseFusedKernel = useFusedKernel;
    }

    public Normalizer Normalizer { get; }

    /// <summary>Use libtorch's fused kernel when the normalizer has one (softmax) and no probabilities are asked for.</summary>
    public bool UseFusedKernel { get; }

    public bool ProvidesProbabilities => true;

    public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
    {
        if (!withProbabilities && UseFusedKernel && Normalizer.HasFusedKernel)
            return new(Fused(q, k, v, mask));
        var result = Naive(q, k, v, mask, Normalizer);
        if (withProbabilities) return result;
        result.Probabilities!.Dispose();
        return result with { Probabilities = null };
    }

    public override string ToString() => $"{Normalizer} attention";

    /// <summary>
    /// The textbook computation; materialises the (B, H, Lq, Lk) score matrix. 1.5-entmax under the causal mask alone
    /// (CPU, float32/float64) runs as <see cref="CausalEntmaxAttentionFunction"/>: the mask inside the entmax kernel and,
    /// where p is sparse, the products over its support only.
    /// </summary>
    public static AttentionResult Naive(Tensor q, Tensor k, Tensor v, AttentionMask? mask, Normalizer normalizer)
    {
        if (normalizer.Kind != NormalizerKind.Entmax15 || mask is not { Causal: true, KeyPadding: null, Allowed: null })
            return Naive(q, k, v, mask, normalizer.Apply);
        Check(q, k, v);
        if (!CausalEntmaxAttentionFunction.Supports(q, k)) return Naive(q, k, v, mask, normalizer.Apply);
        var (output, p) = CausalEntmaxAttentionFunction.Apply(q, k, v);
        return new(output, p);
    }

    /// <summary>The same with any map along the last dimension (the benchmark's entmax on libtorch operations).</summary>
    internal static AttentionResult Naive(Tensor q, Tensor k, Tensor v, AttentionMask? mask, Func<Tensor, Tensor> normalize)
    {
        var (batch, heads, lq, lk) = Check(q, k, v);
        using var scope = NewDisposeScope();
        var scores = q.div(Scalars.Of(Math.Sqrt(q.shape[3]))).matmul(k.transpose(-2, -1));  // (B, H, Lq, Lk); scaling q costs L·d, not L²
        if (mask?.ToDense(batch, heads, lq, lk, q.device) is { } allowed)
            scores = scores.masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var p = normalize(scores);                                             // (B, H, Lq, Lk), rows on the simplex
        var output = p.matmul(v);                                              // (B, H, Lq, dᵥ)
        return new(output.MoveToOuterDisposeScope(), p.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// libtorch's fused softmax attention. A query whose keys are all masked gets a zero output (libtorch alone would
    /// give NaN): such rows are unmasked for the kernel and their output zeroed, so no NaN reaches the gradients.
    /// </summary>
    public static Tensor Fused(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null)
    {
        var (batch, heads, lq, lk) = Check(q, k, v);
        if (mask is null || mask.IsEmpty)
            return nn.functional.scaled_dot_product_attention(q, k, v);
        if (mask is { Causal: true, KeyPadding: null, Allowed: null })
            return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true); // every row keeps key 0
        using var scope = NewDisposeScope();
        var allowed = mask.ToDense(batch, heads, lq, lk, q.device)!;                    // broadcastable (B, H, Lq, Lk)
        var anyKey = allowed.any(-1, keepdim: true);                                    // (·, ·, Lq, 1)
        var output = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: allowed.logical_or(anyKey.logical_not()));
        return output.masked_fill(anyKey.logical_not(), Scalars.Zero).MoveToOuterDisposeScope();
    }

    /// <summary>Validates (B, H, Lq, d), (B, H, Lk, d), (B, H, Lk, dᵥ), one dtype and device; returns (B, H, Lq, Lk).</summary>
    internal static (long Batch, long Heads, long QueryLength, long KeyLength) Check(Tensor q, Tensor k, Tensor v)
    {
        const string layout = "(batch, heads, length, head dim)";
        Guard.FloatingTensor(q, nameof(q));
        Guard.FloatingTensor(k, nameof(k));
        Guard.FloatingTensor(v, nameof(v));
        Guard.Rank(q, 4, nameof(q), layout);
        Guard.Rank(k, 4, nameof(k), layout);
        Guard.Rank(v, 4, nameof(v), layout);
        Guard.SameDTypeAndDevice(q, nameof(q), k, nameof(k));
        Guard.SameDTypeAndDevice(q, nameof(q), v, nameof(v));
        Guard.Size(k, nameof(k), 0, q.shape[0], "batch, as in q");
        Guard.Size(v, nameof(v), 0, q.shape[0], "batch, as in q");
        Guard.Size(k, nameof(k), 1, q.shape[1], "heads, as in q");
        Guard.Size(v, nameof(v), 1, q.shape[1], "heads, as in q");
        Guard.Size(k, nameof(k), 3, q.shape[3], "head dim, as in q");
        Guard.Size(v, nameof(v), 2, k.shape[2], "key length, as in k");
        return (q.shape[0], q.shape[1], q.shape[2], k.shape[2]);
    }
}
