using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// A fixed sparsity pattern (it ignores q and k) as a graph predictor: sliding window, Longformer, BigBird and the
/// Sparse Transformer's fixed and strided patterns, the baselines of Sparsefinder's comparison.
/// </summary>
public sealed class PatternPredictor : IGraphPredictor
{
    private readonly Func<long, long, Device, Tensor> pattern;

    private PatternPredictor(string name, Func<long, long, Device, Tensor> pattern)
    {
        Name = name;
        this.pattern = pattern;
    }

    public string Name { get; }

    /// <summary>The pattern alone, (Lq, Lk) (broadcastable against (B, H, Lq, Lk)), before the mask.</summary>
    public Tensor Pattern(long queryLength, long keyLength, Device device) => pattern(queryLength, keyLength, device);

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        GraphPredictors.Check(q, k, valid);
        using var scope = NewDisposeScope();
        return Pattern(q.shape[2], k.shape[2], q.device).logical_and(valid).MoveToOuterDisposeScope();
    }

    public double CostPerQuery(long keyLength, long dim) => 0;

    /// <summary>Sliding window: |i − j| ≤ w.</summary>
    public static PatternPredictor SlidingWindow(int window)
    {
        SparsePatterns.Positive(window, nameof(window), allowZero: true);
        return new($"window w={window}", (lq, lk, dev) => SparsePatterns.Window(lq, lk, window, dev));
    }

    /// <summary>Longformer: a sliding window plus g global tokens (the first g queries see everything, every query sees them).</summary>
    public static PatternPredictor Longformer(int window, int global)
    {
        SparsePatterns.Positive(window, nameof(window), allowZero: true);
        SparsePatterns.Positive(global, nameof(global), allowZero: true);
        return new($"longformer w={window} g={global}", (lq, lk, dev) => SparsePatterns.Longformer(lq, lk, window, global, dev));
    }

    /// <summary>BigBird: Longformer's window and globals plus r random keys per query (seeded, so the same pattern each call).</summary>
    public static PatternPredictor BigBird(int window, int global, int randomKeys, long seed = 0)
    {
        SparsePatterns.Positive(window, nameof(window), allowZero: true);
        SparsePatterns.Positive(global, nameof(global), allowZero: true);
        SparsePatterns.Positive(randomKeys, nameof(randomKeys), allowZero: true);
        return new($"bigbird w={window} g={global} r={randomKeys}", (lq, lk, dev) =>
        {
            var generator = new Generator((ulong)seed, device("cpu"));
            var scores = rand(new[] { lq, lk }, generator: generator).to(dev);
            var chosen = scores.topk(Math.Min(randomKeys, (int)lk), dim: -1).indexes;
            var random = zeros(new[] { lq, lk }, ScalarType.Bool, dev).scatter_(-1, chosen, ones_like(chosen, ScalarType.Bool));
            return SparsePatterns.Longformer(lq, lk, window, global, dev).logical_or(random);
        });
    }

    /// <summary>Sparse Transformer, fixed (<see cref="SparsePatterns.Fixed"/>), c = <paramref name="summary"/> summary columns per block.</summary>
    public static PatternPredictor SparseTransformerFixed(int stride, int summary = 1)
    {
        SparsePatterns.Fixed(1, 1, stride, summary);                                  // validates the arguments
        return new($"fixed s={stride} c={summary}", (lq, lk, dev) => SparsePatterns.Fixed(lq, lk, stride, summary, dev));
    }

    /// <summary>Sparse Transformer, strided: |i − j| &lt; s or (i − j) mod s = 0.</summary>
    public static PatternPredictor SparseTransformerStrided(int stride)
    {
        SparsePatterns.Positive(stride, nameof(stride));
        return new($"strided s={stride}", (lq, lk, dev) => SparsePatterns.Strided(lq, lk, stride, dev));
    }
}

/// <summary>
/// Reformer-style LSH: unit-normalised q and k are hashed by the same random rotations R (d × β/2), bucket
/// h(x) = argmax [xR ; −xR]; (i, j) is connected when they share a bucket in at least one of the rounds. Reformer
/// ties Q = K; with separate q and k the same rotations hash both.
/// </summary>
public sealed class LshPredictor : IGraphPredictor
{
    public LshPredictor(int buckets, int rounds = 1, long seed = 0)
    {
        if (buckets < 2 || buckets % 2 != 0) throw new ArgumentOutOfRangeException(nameof(buckets), buckets, $"buckets = {buckets}; expected an even number ≥ 2.");
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, $"rounds = {rounds}; expected ≥ 1.");
        Buckets = buckets;
        Rounds = rounds;
        Seed = seed;
    }

    public int Buckets { get; }
    public int Rounds { get; }
    public long Seed { get; }
    public string Name => Rounds == 1 ? $"lsh β={Buckets}" : $"lsh β={Buckets}×{Rounds}";

    /// <summary>The rotations (rounds, d, β/2), the same for every call with this seed.</summary>
    public Tensor Rotations(long dim, ScalarType dtype, Device device)
        => randn(new[] { Rounds, dim, Buckets / 2 }, generator: new Generator((ulong)Seed, torch.device("cpu"))).to(dtype, device);

    /// <summary>Bucket of every vector in every round: x (B, H, L, d) → long (rounds, B, H, L).</summary>
    public Tensor BucketOf(Tensor x)
    {
        var r = Rotations(x.shape[3], x.dtype, x.device);
        var projected = nn.functional.normalize(x, dim: -1).unsqueeze(0).matmul(r.view(Rounds, 1, 1, x.shape[3], Buckets / 2)); // (R, B, H, L, β/2)
        return cat([projected, projected.neg()], -1).argmax(-1);
    }

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        GraphPredictors.Check(q, k, valid);
        using var scope = NewDisposeScope();
        var qb = BucketOf(q);
        var kb = BucketOf(k);
        var graph = zeros_like(valid);
        for (int round = 0; round < Rounds; round++)
            graph = graph.logical_or(qb[round].unsqueeze(-1).eq(kb[round].unsqueeze(-2)));
        return graph.logical_and(valid).MoveToOuterDisposeScope();
    }

    public double CostPerQuery(long keyLength, long dim) => 2.0 * Rounds * dim * Buckets / 2;
}
