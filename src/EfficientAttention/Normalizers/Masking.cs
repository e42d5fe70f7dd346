using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>Handling of slices whose scores are all <c>-inf</c> (fully masked attention rows).</summary>
internal static class Masking
{
    /// <summary>
    /// Shifts each slice along <paramref name="dim"/> so its maximum is 0 (exp and powers stay finite), and reports the
    /// slices that are entirely <c>-inf</c>; those are replaced by zeros so the kernels see a harmless finite input,
    /// and the caller zeroes their output.
    /// </summary>
    /// <returns>shifted scores (same shape) and the dead-slice mask (size 1 along <paramref name="dim"/>).</returns>
    public static (Tensor Shifted, Tensor? Dead) SeparateDeadSlices(Tensor scores, long dim)
    {
        var max = scores.amax(new[] { dim }, keepdim: true);            // (…, 1, …)
        var dead = max.eq(Scalars.NegativeInfinity);                      // (…, 1, …)
        if (!dead.any().item<bool>()) return (scores - max, null);       // the common case: one pass, no masking
        var shifted = scores.masked_fill(dead, Scalars.Zero) - max.masked_fill(dead, Scalars.Zero);
        return (shifted, dead);
    }

    /// <summary>Zeroes the dead slices of <paramref name="p"/> (no-op when there are none).</summary>
    public static Tensor ZeroDead(Tensor p, Tensor? dead) => dead is null ? p : p.masked_fill(dead, Scalars.Zero);

    /// <summary>A tensor 1, 2, …, n laid along <paramref name="dim"/> of a rank-<paramref name="rank"/> tensor, for broadcasting.</summary>
    public static Tensor Ranks(long n, long dim, long rank, Tensor like)
    {
        var shape = Enumerable.Repeat(1L, (int)rank).ToArray();
        shape[dim] = n;
        return arange(Scalars.One, Scalars.Of(n + 1), Scalars.One, like.dtype, like.device).view(shape);
    }
}
