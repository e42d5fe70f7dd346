using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Which keys each query may attend to: the logical AND of a causal constraint, key padding, and an arbitrary boolean
/// graph. Kept as parts rather than one dense tensor so that fast paths can use them (libtorch's <c>is_causal</c>, a
/// Combiner partition) without materialising an L × L matrix.
/// </summary>
public sealed record AttentionMask
{
    /// <summary>Query i may attend key j only when j ≤ i (top-left aligned, as libtorch's <c>is_causal</c>).</summary>
    public bool Causal { get; init; }

    /// <summary>Bool (B, Lk): true for a real key, false for padding. Null: no padding.</summary>
    public Tensor? KeyPadding { get; init; }

    /// <summary>Bool, broadcastable to (B, H, Lq, Lk): true where attention is allowed. Null: everything allowed.</summary>
    public Tensor? Allowed { get; init; }

    /// <summary>The causal mask (no padding, no graph).</summary>
    public static AttentionMask CausalOnly { get; } = new() { Causal = true };

    /// <summary>True when nothing is masked.</summary>
    public bool IsEmpty => !Causal && KeyPadding is null && Allowed is null;

    /// <summary>
    /// The dense boolean mask, broadcastable to (B, H, Lq, Lk) — rank 4 with size-1 axes where a part does not vary —
    /// or null when nothing is masked. Checks the parts' shapes against q (B, H, Lq, d) and k (B, H, Lk, d).
    /// </summary>
    public Tensor? ToDense(long batch, long heads, long queryLength, long keyLength, Device device)
    {
        Tensor? dense = null;
        if (Causal)
            dense = ones(queryLength, keyLength, ScalarType.Bool, device).tril().view(1, 1, queryLength, keyLength);
        if (KeyPadding is { } padding)
        {
            if (padding.dtype != ScalarType.Bool || padding.dim() != 2 || padding.shape[0] != batch || padding.shape[1] != keyLength)
                throw new ArgumentException($"mask.KeyPadding has shape {Guard.Shape(padding)} and dtype {padding.dtype}; expected Bool ({batch}, {keyLength}) = (B, Lk).", "mask");
            var p = padding.to(device).view(batch, 1, 1, keyLength);
            dense = dense is null ? p : dense.logical_and(p);
        }
        if (Allowed is { } allowed)
        {
            long[] target = [batch, heads, queryLength, keyLength];
            bool broadcastable = allowed.dim() <= 4 && allowed.shape.Reverse().Zip(target.Reverse()).All(t => t.First == 1 || t.First == t.Second);
            if (allowed.dtype != ScalarType.Bool || !broadcastable)
                throw new ArgumentException($"mask.Allowed has shape {Guard.Shape(allowed)} and dtype {allowed.dtype}; expected Bool broadcastable to ({string.Join(", ", target)}) = (B, H, Lq, Lk).", "mask");
            var a = allowed.to(device);
            while (a.dim() < 4) a = a.unsqueeze(0);
            dense = dense is null ? a : dense.logical_and(a);
        }
        return dense;
    }
}
