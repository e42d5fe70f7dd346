using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// What every attention core, sub-layer, block and model returns: the output and, when asked for with
/// <c>withProbabilities: true</c>, the attention probabilities that produced it (null otherwise) — as x-transformers'
/// <c>Attend</c> returns <c>(out, intermediates)</c>. A core or sub-layer gives P as (B, H, Lq, Lk); a block stack or
/// model gives every layer's, stacked as (layers, B, H, L, L). Rows sum to 1, or are all zero for a fully masked query.
/// </summary>
public sealed record AttentionResult(Tensor Output, Tensor? Probabilities = null);

/// <summary>
/// The seam every attention method implements: given per-head queries, keys and values, return per-head outputs.
/// Shapes: q (B, H, Lq, d), k (B, H, Lk, d), v (B, H, Lk, dᵥ) → (B, H, Lq, dᵥ). dtype and device follow the inputs.
/// </summary>
public interface IAttention
{
    /// <summary>Whether <see cref="Forward"/> can return its probabilities (methods that never form P cannot).</summary>
    bool ProvidesProbabilities { get; }

    /// <summary>
    /// Attention of <paramref name="q"/> over (<paramref name="k"/>, <paramref name="v"/>), restricted by
    /// <paramref name="mask"/>; with <paramref name="withProbabilities"/>, also P (B, H, Lq, Lk). Asking a core whose
    /// <see cref="ProvidesProbabilities"/> is false throws <see cref="NotSupportedException"/>.
    /// </summary>
    AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false);
}

/// <summary>Shared argument checks of <see cref="IAttention"/> implementations.</summary>
internal static class AttentionCores
{
    /// <summary>Throws the error a core gives when asked for probabilities it does not form.</summary>
    public static NotSupportedException NoProbabilities(IAttention core) =>
        new($"The attention core {core} does not form attention probabilities; call it with withProbabilities: false, " +
            "or analyse a model built with a core whose ProvidesProbabilities is true (e.g. ScaledDotProductAttention).");
}
