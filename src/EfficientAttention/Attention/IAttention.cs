using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// The seam every attention method implements: given per-head queries, keys and values, return per-head outputs.
/// Shapes: q (B, H, Lq, d), k (B, H, Lk, d), v (B, H, Lk, dᵥ) → (B, H, Lq, dᵥ). dtype and device follow the inputs.
/// </summary>
public interface IAttention
{
    /// <summary>Attention of <paramref name="q"/> over (<paramref name="k"/>, <paramref name="v"/>), restricted by <paramref name="mask"/>.</summary>
    Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null);
}

/// <summary>An attention method that can also return its attention probabilities (B, H, Lq, Lk) for analysis.</summary>
public interface IAttentionWithProbabilities : IAttention
{
    /// <summary>The output and the probabilities P it applied (rows sum to 1, or are all zero for a fully masked query).</summary>
    (Tensor Output, Tensor Probabilities) ForwardWithProbabilities(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null);
}
