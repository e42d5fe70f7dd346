using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Fixed sparsity patterns as bool (Lq, Lk) tensors, true where query i may attend key j (before any causal mask):
/// the baselines of both Sparsefinder (as graph predictors) and Combiner (as masks over softmax attention).
/// </summary>
public static class SparsePatterns
{
    /// <summary>
    /// Sparse Transformer, fixed (Child et al., 2019): j is in i's block of <paramref name="stride"/> (⌊i/s⌋ = ⌊j/s⌋) or
    /// j is one of the last c = <paramref name="summary"/> positions of a block (j mod s ≥ s − c), the "summary" columns.
    /// </summary>
    public static Tensor Fixed(long queryLength, long keyLength, int stride, int summary = 1, Device? device = null)
    {
        Positive(stride, nameof(stride));
        if (summary < 1 || summary > stride)
            throw new ArgumentOutOfRangeException(nameof(summary), summary, $"summary c = {summary}; expected 1 ≤ c ≤ stride = {stride}.");
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        return SameBlock(i, j, stride).logical_or(j.remainder(Scalars.Of(stride)).ge(Scalars.Of(stride - summary))).MoveToOuterDisposeScope();
    }

    /// <summary>Sparse Transformer, strided: |i − j| &lt; s or (i − j) mod s = 0.</summary>
    public static Tensor Strided(long queryLength, long keyLength, int stride, Device? device = null)
    {
        Positive(stride, nameof(stride));
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        var offset = i - j;
        return offset.abs().lt(Scalars.Of(stride)).logical_or(offset.remainder(Scalars.Of(stride)).eq(Scalars.Zero)).MoveToOuterDisposeScope();
    }

    /// <summary>LogSparse Transformer (Li et al., 2019): j in i's block of <paramref name="blockSize"/>, or |i − j| a power of two.</summary>
    public static Tensor Logsparse(long queryLength, long keyLength, int blockSize, Device? device = null)
    {
        Positive(blockSize, nameof(blockSize));
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        var distance = (i - j).abs();
        var powerOfTwo = distance.gt(Scalars.Zero).logical_and(distance.bitwise_and(distance.sub(Scalars.One)).eq(Scalars.Zero));
        return SameBlock(i, j, blockSize).logical_or(powerOfTwo).MoveToOuterDisposeScope();
    }

    /// <summary>Axial (row-major rows of <paramref name="rowLength"/>): j in i's row or in i's column.</summary>
    public static Tensor Axial(long queryLength, long keyLength, int rowLength, Device? device = null)
    {
        Positive(rowLength, nameof(rowLength));
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        return SameBlock(i, j, rowLength).logical_or(i.remainder(Scalars.Of(rowLength)).eq(j.remainder(Scalars.Of(rowLength)))).MoveToOuterDisposeScope();
    }

    /// <summary>Sliding window: |i − j| ≤ w.</summary>
    public static Tensor Window(long queryLength, long keyLength, int window, Device? device = null)
    {
        Positive(window, nameof(window), allowZero: true);
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        return (i - j).abs().le(Scalars.Of(window)).MoveToOuterDisposeScope();
    }

    /// <summary>Longformer: a sliding window plus g global tokens (the first g queries see everything, every query sees them).</summary>
    public static Tensor Longformer(long queryLength, long keyLength, int window, int global, Device? device = null)
    {
        Positive(global, nameof(global), allowZero: true);
        using var scope = NewDisposeScope();
        var (i, j) = Grid(queryLength, keyLength, device);
        return Window(queryLength, keyLength, window, device).logical_or(i.lt(Scalars.Of(global))).logical_or(j.lt(Scalars.Of(global))).MoveToOuterDisposeScope();
    }

    private static Tensor SameBlock(Tensor i, Tensor j, int size)
        => i.div(Scalars.Of(size), rounding_mode: RoundingMode.floor).eq(j.div(Scalars.Of(size), rounding_mode: RoundingMode.floor));

    private static (Tensor I, Tensor J) Grid(long lq, long lk, Device? device)
        => (Scalars.Arange(lq, device ?? CPU).view(lq, 1), Scalars.Arange(lk, device ?? CPU).view(1, lk));

    internal static void Positive(int value, string name, bool allowZero = false)
    {
        if (value < (allowZero ? 0 : 1))
            throw new ArgumentOutOfRangeException(name, value, $"{name} = {value}; expected {(allowZero ? "≥ 0" : "≥ 1")}.");
    }
}
