using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Combiner as an attention core for the shared models. Causality comes from <see cref="CombinerOptions.Causal"/> and
/// must agree with the model's mask; key padding (<see cref="AttentionMask.KeyPadding"/>) is honoured by every partition
/// (padded keys leave the direct part and the region summaries alike).
/// </summary>
public sealed class CombinerAttention : IAttention
{
    public CombinerAttention(CombinerOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.BlockSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize, $"options.BlockSize = {options.BlockSize}; expected ≥ 1.");
    }

    public CombinerOptions Options { get; }

    /// <summary>False: Combiner never forms the L × L probabilities (that is the point).</summary>
    public bool ProvidesProbabilities => false;

    public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
    {
        if (withProbabilities) throw AttentionCores.NoProbabilities(this);
        if (mask is not null)
        {
            if (mask.Allowed is not null)
                throw new NotSupportedException("Combiner builds its own sparsity structure; an arbitrary mask.Allowed graph is not supported.");
            if (mask.Causal != Options.Causal)
                throw new ArgumentException($"mask.Causal = {mask.Causal} but options.Causal = {Options.Causal}; expected them to agree.", nameof(mask));
        }
        return new(Combiner.Attend(q, k, v, Options, mask?.KeyPadding));
    }

    public override string ToString() => $"combiner-{Options.Partition.ToString().ToLowerInvariant()} (s = {Options.BlockSize}{(Options.Causal ? ", causal" : "")})";
}

/// <summary>
/// The sparse patterns Combiner improves on, as plain masks over softmax attention (libtorch SDPA with a boolean mask):
/// each query sees only its direct part, with no summaries. Fixed is the Sparse Transformer's fixed pattern (own block
/// plus the last position of every block), Logsparse is the LogSparse Transformer's (own block plus keys at distance
/// 2ᵏ), Axial is own row plus own column.
/// </summary>
public sealed class SparsePatternAttention : IAttention
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
    public bool ProvidesProbabilities => true;

    /// <summary>The pattern as bool (L, L): true where query i may attend key j.</summary>
    public static Tensor Mask(CombinerPartition pattern, long length, int blockSize, bool causal)
    {
        using var scope = NewDisposeScope();
        var allowed = pattern switch
        {
            CombinerPartition.Fixed => SparsePatterns.Fixed(length, length, blockSize),
            CombinerPartition.Logsparse => SparsePatterns.Logsparse(length, length, blockSize),
            CombinerPartition.Axial => SparsePatterns.Axial(length, length, blockSize),
            _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "expected Fixed, Logsparse or Axial."),
        };
        if (causal) allowed = allowed.logical_and(ones(length, length, ScalarType.Bool).tril());
        return allowed.MoveToOuterDisposeScope();
    }

    private AttentionMask Combined(AttentionMask? mask, long length, Device device)
    {
        if (!masks.TryGetValue(length, out var pattern))
            masks[length] = pattern = Mask(Pattern, length, BlockSize, Causal).DetachFromDisposeScope();
        var allowed = pattern.to(device);
        return (mask ?? new AttentionMask()) with { Allowed = mask?.Allowed is { } given ? given.to(device).logical_and(allowed) : allowed };
    }

    public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
        => withProbabilities
            ? ScaledDotProductAttention.Naive(q, k, v, Combined(mask, q.shape[2], q.device), Normalizer.Softmax)
            : new(ScaledDotProductAttention.Fused(q, k, v, Combined(mask, q.shape[2], q.device)));

    public override string ToString() => $"{Pattern.ToString().ToLowerInvariant()} mask (s = {BlockSize}{(Causal ? ", causal" : "")})";
}

/// <summary>
/// An attention variant of the Combiner comparison, as in the paper's tables: full softmax, a sparse mask
/// (<see cref="Summarised"/> false: the partition's direct part only) or a Combiner partition (direct part + region
/// summaries). <see cref="Name"/> is the label tables and results use.
/// </summary>
public sealed record CombinerVariant(string Name, CombinerPartition? Partition, bool Summarised)
{
    public static CombinerVariant Full { get; } = new("full", null, false);
    public static CombinerVariant Fixed { get; } = new("fixed", CombinerPartition.Fixed, false);
    public static CombinerVariant Logsparse { get; } = new("logsparse", CombinerPartition.Logsparse, false);
    public static CombinerVariant Axial { get; } = new("axial", CombinerPartition.Axial, false);
    public static CombinerVariant CombinerFixed { get; } = new("combiner-fixed", CombinerPartition.Fixed, true);
    public static CombinerVariant CombinerLogsparse { get; } = new("combiner-logsparse", CombinerPartition.Logsparse, true);
    public static CombinerVariant CombinerAxial { get; } = new("combiner-axial", CombinerPartition.Axial, true);
    public static CombinerVariant CombinerMixture { get; } = new("combiner-mixture", CombinerPartition.Mixture, true);

    /// <summary>Every variant, each sparse mask followed by its Combiner counterpart.</summary>
    public static IReadOnlyList<CombinerVariant> All { get; } =
        [Full, Fixed, CombinerFixed, Logsparse, CombinerLogsparse, Axial, CombinerAxial, CombinerMixture];

    /// <summary>The variant whose <see cref="Name"/> is <paramref name="name"/>.</summary>
    public static CombinerVariant Parse(string name) => All.FirstOrDefault(v => v.Name == name)
        ?? throw new ArgumentOutOfRangeException(nameof(name), name, $"unknown variant '{name}'; expected one of {string.Join(", ", All)}.");

    /// <summary>The attention core for block size s, causal or bidirectional.</summary>
    public IAttention Create(int blockSize, bool causal) => (Partition, Summarised) switch
    {
        (null, _) => new ScaledDotProductAttention(),
        ({ } p, false) => new SparsePatternAttention(p, blockSize, causal),
        ({ } p, true) => new CombinerAttention(new CombinerOptions(p, blockSize, causal)),
    };

    /// <summary>
    /// An L × L picture of the variant for one sequence: 2 where query i attends key j directly, 0.7 or 1.3 where it
    /// reaches j through a region summary (alternating between a query's consecutive regions, so their boundaries
    /// show), 0 where it cannot reach j. Sparse masks have only 0 and 2.
    /// </summary>
    public double[][] SupportPicture(int length, int blockSize, bool causal)
    {
        var picture = Enumerable.Range(0, length).Select(_ => new double[length]).ToArray();
        if (Partition is not { } partition)
        {
            for (int i = 0; i < length; i++) for (int j = 0; j < length; j++) picture[i][j] = !causal || j <= i ? 2 : 0;
            return picture;
        }
        if (!Summarised)
        {
            var mask = SparsePatternAttention.Mask(partition, length, blockSize, causal).data<bool>().ToArray();
            for (int i = 0; i < length; i++) for (int j = 0; j < length; j++) picture[i][j] = mask[i * length + j] ? 2 : 0;
            return picture;
        }
        var options = new CombinerOptions(partition, blockSize, causal);
        for (int i = 0; i < length; i++)
        {
            var (direct, regions) = CombinerReference.Partition(i, length, options);
            for (int r = 0; r < regions.Count; r++)
                foreach (var j in regions[r].Positions) picture[i][j] = r % 2 == 0 ? 0.7 : 1.3;
            foreach (var j in direct) picture[i][j] = 2;
        }
        return picture;
    }

    /// <summary>
    /// Where query <paramref name="query"/> finds each key, as the paper's Figure 1 draws it: −1 where it cannot reach
    /// the key, 0 where it attends the key directly, r ≥ 1 where it reaches the key through its r-th region's summary.
    /// </summary>
    public int[] Regions(int query, int length, int blockSize, bool causal)
    {
        if (query < 0 || query >= length) throw new ArgumentOutOfRangeException(nameof(query), query, $"query = {query}; expected 0 ≤ query < length = {length}.");
        var map = Enumerable.Repeat(-1, length).ToArray();
        if (Partition is not { } partition)
        {
            for (int j = 0; j < length; j++) if (!causal || j <= query) map[j] = 0;
            return map;
        }
        if (!Summarised)
        {
            var row = SparsePatternAttention.Mask(partition, length, blockSize, causal)[query].data<bool>().ToArray();
            for (int j = 0; j < length; j++) if (row[j]) map[j] = 0;
            return map;
        }
        var (direct, regions) = CombinerReference.Partition(query, length, new CombinerOptions(partition, blockSize, causal));
        for (int r = 0; r < regions.Count; r++)
            foreach (var j in regions[r].Positions) map[j] = r + 1;
        foreach (var j in direct) map[j] = 0;
        return map;
    }

    public override string ToString() => Name;
}
