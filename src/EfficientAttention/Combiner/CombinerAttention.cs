using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Combiner as an attention core for the shared models. Causality comes from <see cref="CombinerOptions.Causal"/> and
/// must agree with the model's mask; key padding is supported only when nothing is padded (give classifiers a pad id
/// that never occurs, so padding positions are attended as ordinary tokens, for every variant alike).
/// </summary>
public sealed class CombinerAttention : IAttention
{
    public CombinerAttention(CombinerOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.BlockSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize, $"options.BlockSize = {options.BlockSize}; expected ≥ 1.");
    }

    public CombinerOptions Options { get; }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null)
    {
        if (mask is not null)
        {
            if (mask.Allowed is not null)
                throw new NotSupportedException("Combiner builds its own sparsity structure; an arbitrary mask.Allowed graph is not supported.");
            if (mask.Causal != Options.Causal)
                throw new ArgumentException($"mask.Causal = {mask.Causal} but options.Causal = {Options.Causal}; expected them to agree.", nameof(mask));
            if (mask.KeyPadding is { } padding && !padding.all().item<bool>())
                throw new NotSupportedException("Combiner does not take padded keys (mask.KeyPadding has false entries); use a pad id that never occurs so padding is attended as ordinary tokens.");
        }
        return Combiner.Attend(q, k, v, Options);
    }

    public override string ToString() => $"combiner-{Options.Partition.ToString().ToLowerInvariant()} (s = {Options.BlockSize}{(Options.Causal ? ", causal" : "")})";
}

/// <summary>
/// The sparse patterns Combiner improves on, as plain masks over softmax attention (libtorch SDPA with a boolean mask):
/// each query sees only its direct part, with no summaries. Fixed is the Sparse Transformer's fixed pattern (own block
/// plus the last position of every block), Logsparse is the LogSparse Transformer's (own block plus keys at distance
/// 2ᵏ), Axial is own row plus own column.
/// </summary>
public sealed class SparsePatternAttention : IAttentionWithProbabilities
{
    private readonly Dictionary<long, Tensor> masks = new();

    public SparsePatternAttention(CombinerPartition pattern, int blockSize, bool causal = true)
    {
        if (pattern == CombinerPartition.Mixture) throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "pattern = Mixture has no plain-mask counterpart; expected Fixed, Logsparse or Axial.");
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"blockSize = {blockSize}; expected ≥ 1.");
        (Pattern, BlockSize, Causal) = (pattern, blockSize, causal);
    }

    public CombinerPartition Pattern { get; }
    public int BlockSize { get; }
    public bool Causal { get; }

    /// <summary>The pattern as bool (L, L): true where query i may attend key j.</summary>
    public static Tensor Mask(CombinerPartition pattern, long length, int blockSize, bool causal)
    {
        using var scope = NewDisposeScope();
        var i = arange(length, ScalarType.Int64).view(length, 1);
        var j = arange(length, ScalarType.Int64).view(1, length);
        Tensor Div(Tensor x) => x.div(blockSize, rounding_mode: RoundingMode.floor);
        var sameBlock = Div(i).eq(Div(j));
        Tensor allowed = pattern switch
        {
            CombinerPartition.Fixed => sameBlock.logical_or(j.remainder(blockSize).eq(blockSize - 1)),
            CombinerPartition.Logsparse => sameBlock.logical_or(PowerOfTwoDistance((i - j).abs())),
            CombinerPartition.Axial => sameBlock.logical_or(i.remainder(blockSize).eq(j.remainder(blockSize))),
            _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "expected Fixed, Logsparse or Axial."),
        };
        if (causal) allowed = allowed.logical_and(j.le(i));
        return allowed.MoveToOuterDisposeScope();
    }

    private static Tensor PowerOfTwoDistance(Tensor distance) => distance.gt(0).logical_and(distance.bitwise_and(distance - 1).eq(0));

    private AttentionMask Combined(AttentionMask? mask, long length, Device device)
    {
        if (!masks.TryGetValue(length, out var pattern))
            masks[length] = pattern = Mask(Pattern, length, BlockSize, Causal).DetachFromDisposeScope();
        var allowed = pattern.to(device);
        return (mask ?? new AttentionMask()) with { Allowed = mask?.Allowed is { } given ? given.to(device).logical_and(allowed) : allowed };
    }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null)
        => ScaledDotProductAttention.Fused(q, k, v, Combined(mask, q.shape[2], q.device));

    public (Tensor Output, Tensor Probabilities) ForwardWithProbabilities(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null)
        => ScaledDotProductAttention.Naive(q, k, v, Combined(mask, q.shape[2], q.device), Normalizer.Softmax);

    public override string ToString() => $"{Pattern.ToString().ToLowerInvariant()} mask (s = {BlockSize}{(Causal ? ", causal" : "")})";
}

/// <summary>
/// The attention variants of the Combiner comparison by name, as in the paper's tables: full softmax, the three sparse
/// masks and the four Combiner partitions, each built for a block size s and causal or bidirectional use.
/// </summary>
public static class CombinerVariants
{
    public static IReadOnlyList<string> Names { get; } =
        ["full", "fixed", "combiner-fixed", "logsparse", "combiner-logsparse", "axial", "combiner-axial", "combiner-mixture"];

    public static IAttention Create(string name, int blockSize, bool causal) => name switch
    {
        "full" => new ScaledDotProductAttention(),
        "fixed" => new SparsePatternAttention(CombinerPartition.Fixed, blockSize, causal),
        "logsparse" => new SparsePatternAttention(CombinerPartition.Logsparse, blockSize, causal),
        "axial" => new SparsePatternAttention(CombinerPartition.Axial, blockSize, causal),
        "combiner-fixed" => new CombinerAttention(new CombinerOptions(CombinerPartition.Fixed, blockSize, causal)),
        "combiner-logsparse" => new CombinerAttention(new CombinerOptions(CombinerPartition.Logsparse, blockSize, causal)),
        "combiner-axial" => new CombinerAttention(new CombinerOptions(CombinerPartition.Axial, blockSize, causal)),
        "combiner-mixture" => new CombinerAttention(new CombinerOptions(CombinerPartition.Mixture, blockSize, causal)),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"unknown variant '{name}'; expected one of {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// An L × L picture of a partition for one sequence: 2 where query i attends key j directly, 0.7 or 1.3 where it
    /// reaches j through a region summary (alternating between a query's consecutive regions, so their boundaries
    /// show), 0 where it cannot reach j. Sparse masks have only 0 and 2.
    /// </summary>
    public static double[][] SupportPicture(string name, int length, int blockSize, bool causal)
    {
        var picture = Enumerable.Range(0, length).Select(_ => new double[length]).ToArray();
        if (name == "full")
        {
            for (int i = 0; i < length; i++) for (int j = 0; j < length; j++) picture[i][j] = !causal || j <= i ? 2 : 0;
            return picture;
        }
        if (!name.StartsWith("combiner-"))
        {
            var partition = Enum.Parse<CombinerPartition>(name, ignoreCase: true);
            var mask = SparsePatternAttention.Mask(partition, length, blockSize, causal).data<bool>().ToArray();
            for (int i = 0; i < length; i++) for (int j = 0; j < length; j++) picture[i][j] = mask[i * length + j] ? 2 : 0;
            return picture;
        }
        var options = new CombinerOptions(Enum.Parse<CombinerPartition>(name["combiner-".Length..], ignoreCase: true), blockSize, causal);
        for (int i = 0; i < length; i++)
        {
            var (direct, regions) = CombinerReference.Partition(i, length, options);
            for (int r = 0; r < regions.Count; r++)
                foreach (var j in regions[r].Positions) picture[i][j] = r % 2 == 0 ? 0.7 : 1.3;
            foreach (var j in direct) picture[i][j] = 2;
        }
        return picture;
    }
}
