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

/// <summary>
/// A whole attention sub-layer (projections included) that a transformer block uses: x (B, L, D) → (B, L, D).
/// Layers that reuse attention maps receive the previous layer's probabilities; every layer can hand its own on.
/// <see cref="MultiHeadAttention"/> is the standard one; the Reuse method provides another.
/// </summary>
public interface IAttentionModule
{
    /// <summary>True when <see cref="Forward"/> needs the previous layer's probabilities.</summary>
    bool ReusesPrevious { get; }

    /// <summary>
    /// Output (B, L, D) and, when <paramref name="needProbabilities"/>, this layer's attention probabilities (B, H, L, L)
    /// to analyse or to hand to the next layer (null if the layer cannot produce them).
    /// </summary>
    (Tensor Output, Tensor? Probabilities) Forward(Tensor x, AttentionMask? mask, Tensor? previous, bool needProbabilities);
}
