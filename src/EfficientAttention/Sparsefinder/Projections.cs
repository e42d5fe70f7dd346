using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Sparsefinder's learned low-dimensional projections for one layer: per head, q′ = q W_Q and k′ = k W_K with
/// W_Q, W_K ∈ ℝ^{d×r}, trained so that each query is closer to its gold keys than to the others (<see cref="MarginLoss"/>).
/// The attention model itself stays frozen. With <c>shared</c>, one matrix projects both (W_Q = W_K, the official code's
/// <c>--share-projectors</c>).
/// </summary>
public sealed class SparsefinderProjection : nn.Module<Tensor, Tensor, (Tensor Q, Tensor K)>
{
    private readonly Parameter queryWeight;
    private readonly Parameter? keyWeight;

    public SparsefinderProjection(int heads, int headDim, int rank = 4, long seed = 0, ScalarType dtype = ScalarType.Float32, bool shared = false) : base(nameof(SparsefinderProjection))
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"heads = {heads}; expected ≥ 1.");
        if (headDim < 1) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"headDim = {headDim}; expected ≥ 1.");
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank r = {rank}; expected ≥ 1 (the paper uses r = 4).");
        TorchRuntime.EnsureLoaded();
        var generator = new Generator((ulong)seed, device("cpu"));
        queryWeight = new Parameter(randn(new long[] { heads, headDim, rank }, dtype, generator: generator).div_(Scalars.Of(Math.Sqrt(headDim))));
        if (!shared) keyWeight = new Parameter(randn(new long[] { heads, headDim, rank }, dtype, generator: generator).div_(Scalars.Of(Math.Sqrt(headDim))));
        Shared = shared;
        Heads = heads;
        HeadDim = headDim;
        Rank = rank;
        RegisterComponents();
    }

    public int Heads { get; }
    public int HeadDim { get; }
    public int Rank { get; }

    /// <summary>Whether queries and keys share one projection (W_Q = W_K).</summary>
    public bool Shared { get; }

    /// <summary>q (B, H, Lq, d), k (B, H, Lk, d) → q′ (B, H, Lq, r), k′ (B, H, Lk, r); q and k on the projection's device and dtype.</summary>
    public override (Tensor Q, Tensor K) forward(Tensor q, Tensor k)
    {
        Guard.FloatingTensor(q, nameof(q));
        Guard.FloatingTensor(k, nameof(k));
        Guard.Rank(q, 4, nameof(q), "(batch, heads, queries, head dim)");
        Guard.Rank(k, 4, nameof(k), "(batch, heads, keys, head dim)");
        Guard.Size(q, nameof(q), 1, Heads, "heads of this projection");
        Guard.Size(q, nameof(q), 3, HeadDim, "head dim of this projection");
        Guard.Size(k, nameof(k), 1, Heads, "heads of this projection");
        Guard.Size(k, nameof(k), 3, HeadDim, "head dim of this projection");
        Guard.SameDTypeAndDevice(queryWeight, "projection weights", q, nameof(q));
        Guard.SameDTypeAndDevice(queryWeight, "projection weights", k, nameof(k));
        return (q.matmul(queryWeight), k.matmul(keyWeight ?? queryWeight));
    }

    /// <summary>
    /// The margin (triplet) loss: for each query i, its gold keys P(i) and non-gold valid keys N(i) are put in a seeded
    /// random order and paired one to one, min(|P(i)|, |N(i)|) pairs, so negatives match the positives' count; the loss is
    /// the mean over all pairs of [ω + ‖q′ᵢ − k′₊‖² − ‖q′ᵢ − k′₋‖²]₊. A query with no gold or no negative key adds nothing.
    /// </summary>
    /// <param name="qp">projected queries (B, H, Lq, r)</param>
    /// <param name="kp">projected keys (B, H, Lk, r)</param>
    /// <param name="gold">bool (B, H, Lq, Lk): the gold graph</param>
    /// <param name="valid">bool (B, H, Lq, Lk): the pairs the mask allows</param>
    /// <param name="margin">ω &gt; 0</param>
    /// <param name="seed">seeds the pairing, so a call is deterministic</param>
    /// <param name="perQuery">
    /// false: one hinge per pair, as above (the paper's equation). true: as the official code computes it, one hinge per
    /// query over the sums, [ω + Σ ‖q′ᵢ − k′₊‖² − Σ ‖q′ᵢ − k′₋‖²]₊ over the same pairs, averaged over the queries that have a pair.
    /// </param>
    public static Tensor MarginLoss(Tensor qp, Tensor kp, Tensor gold, Tensor valid, double margin = 1.0, long seed = 0, bool perQuery = false)
    {
        GraphPredictors.Check(qp, kp, valid);
        GraphCounts.CheckGraph(gold, nameof(gold));
        if (!gold.shape.SequenceEqual(valid.shape))
            throw new ArgumentException($"gold has shape {Guard.Shape(gold)}; expected {Guard.Shape(valid)} like valid.", nameof(gold));
        if (!(margin > 0) || double.IsInfinity(margin))
            throw new ArgumentOutOfRangeException(nameof(margin), margin, $"margin ω = {margin}; expected a finite ω > 0.");
        using var scope = NewDisposeScope();
        var positive = gold.logical_and(valid);
        var negative = valid.logical_and(gold.logical_not());
        var pairs = minimum(positive.sum(-1, keepdim: true), negative.sum(-1, keepdim: true));  // (B, H, Lq, 1)
        long width = pairs.max().item<long>();
        if (width == 0) return zeros(Array.Empty<long>(), qp.dtype, qp.device).MoveToOuterDisposeScope();
        var noise = rand(gold.shape, generator: new Generator((ulong)seed, device("cpu"))).to(qp.device);
        var positiveOrder = noise.masked_fill(positive.logical_not(), Scalars.Of(-1)).topk((int)width, dim: -1).indexes;  // gold keys first, random order
        var negativeOrder = noise.masked_fill(negative.logical_not(), Scalars.Of(-1)).topk((int)width, dim: -1).indexes;
        var used = Scalars.Arange(width, qp.device).lt(pairs);                                      // (B, H, Lq, width)
        var distances = GraphPredictors.SquaredDistances(qp, kp);                                              // (B, H, Lq, Lk)
        if (perQuery)
        {
            var difference = (distances.gather(-1, positiveOrder) - distances.gather(-1, negativeOrder)).masked_fill(used.logical_not(), Scalars.Zero).sum(-1);   // (B, H, Lq)
            var counted = pairs.squeeze(-1).gt(Scalars.Zero);
            var perQueryHinge = difference.add(Scalars.Of(margin), Scalars.One).relu().masked_fill(counted.logical_not(), Scalars.Zero);
            return (perQueryHinge.sum() / counted.sum()).MoveToOuterDisposeScope();
        }
        var hinge = (distances.gather(-1, positiveOrder).add(Scalars.Of(margin), Scalars.One) - distances.gather(-1, negativeOrder)).relu();
        return (hinge.masked_fill(used.logical_not(), Scalars.Zero).sum() / used.sum()).MoveToOuterDisposeScope();
    }
}
