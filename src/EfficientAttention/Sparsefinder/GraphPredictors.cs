using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Builds an attention graph Ĝ for one layer before any attention score is computed, from (possibly projected)
/// queries q (B, H, Lq, r) and keys k (B, H, Lk, r), inside the valid pairs (bool (B, H, Lq, Lk)).
/// </summary>
public interface IGraphPredictor
{
    /// <summary>A short label for tables and plots (method and setting).</summary>
    string Name { get; }

    /// <summary>Ĝ as bool (B, H, Lq, Lk), always a subset of <paramref name="valid"/>.</summary>
    Tensor Predict(Tensor q, Tensor k, Tensor valid);

    /// <summary>
    /// The predictor's own work per query, in multiply-adds or comparisons of r-dimensional vectors' coordinates, for
    /// key length <paramref name="keyLength"/> and vector size <paramref name="dim"/> (dense attention's scores cost L·d).
    /// </summary>
    double CostPerQuery(long keyLength, long dim);
}

/// <summary>Sparsefinder's distance predictor: connect (i, j) when ‖q′ᵢ − k′ⱼ‖ &lt; t. Sweeping t traces a curve.</summary>
public sealed class DistancePredictor : IGraphPredictor
{
    public DistancePredictor(double threshold)
    {
        if (!(threshold > 0) || double.IsInfinity(threshold))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"threshold t = {threshold}; expected a finite t > 0.");
        Threshold = threshold;
    }

    public double Threshold { get; }
    public string Name => $"distance t={Threshold:0.###}";

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        GraphPredictors.Check(q, k, valid);
        using var scope = NewDisposeScope();
        return GraphPredictors.SquaredDistances(q, k).lt(Scalars.Of(Threshold * Threshold)).logical_and(valid).MoveToOuterDisposeScope();
    }

    public double CostPerQuery(long keyLength, long dim) => keyLength * dim;
}

/// <summary>How bucket boundaries are placed along each projected coordinate.</summary>
public enum BucketKind
{
    /// <summary>Equal-width buckets between the smallest and largest fitted value.</summary>
    FixedSize,
    /// <summary>Equal-count buckets: boundaries at the fitted values' quantiles.</summary>
    Quantile,
}

/// <summary>
/// Sparsefinder's bucketing predictor: each of the r coordinates is quantised into β buckets (boundaries fitted per
/// head and coordinate); (i, j) is connected when q′ᵢ and k′ⱼ share a bucket in at least one coordinate.
/// </summary>
public sealed class BucketPredictor : IGraphPredictor
{
    /// <param name="boundaries">(H, r, β − 1), ascending along the last axis</param>
    /// <param name="kind">how the boundaries were placed (for the name)</param>
    public BucketPredictor(Tensor boundaries, BucketKind kind)
    {
        Guard.FloatingTensor(boundaries, nameof(boundaries));
        Guard.Rank(boundaries, 3, nameof(boundaries), "(heads, coordinates, buckets − 1)");
        if (boundaries.shape[2] < 1)
            throw new ArgumentException($"boundaries has shape {Guard.Shape(boundaries)}; expected at least 2 buckets (β − 1 ≥ 1 boundaries).", nameof(boundaries));
        Boundaries = boundaries.detach().DetachFromDisposeScope();   // kept for the predictor's lifetime
        Kind = kind;
    }

    public Tensor Boundaries { get; }
    public BucketKind Kind { get; }
    public int Buckets => (int)Boundaries.shape[2] + 1;
    public string Name => $"buckets {(Kind == BucketKind.Quantile ? "quantile" : "fixed")} β={Buckets}";

    /// <summary>Fits boundaries on pooled projected queries and keys, each (B, H, L, r).</summary>
    public static BucketPredictor Fit(Tensor q, Tensor k, int buckets, BucketKind kind)
    {
        if (buckets < 2) throw new ArgumentOutOfRangeException(nameof(buckets), buckets, $"buckets β = {buckets}; expected ≥ 2.");
        using var scope = NewDisposeScope();
        var points = cat([GraphPredictors.Pool(q, nameof(q)), GraphPredictors.Pool(k, nameof(k))], 1).to(ScalarType.Float64);   // (H, N, r)
        Tensor boundaries;
        if (kind == BucketKind.Quantile)
        {
            var levels = linspace(0, 1, buckets + 1, ScalarType.Float64, points.device)[1..^1];
            boundaries = points.quantile(levels, dim: 1).permute(1, 2, 0);                  // (β−1, H, r) → (H, r, β−1)
        }
        else
        {
            var lo = points.amin(new long[] { 1 }).unsqueeze(-1);                             // (H, r, 1)
            var hi = points.amax(new long[] { 1 }).unsqueeze(-1);
            var steps = arange(Scalars.One, Scalars.Of(buckets), Scalars.One, ScalarType.Float64, points.device).div(Scalars.Of(buckets));      // (β−1)
            boundaries = lo.add((hi - lo) * steps, Scalars.One);
        }
        return new BucketPredictor(boundaries.to(q.dtype).MoveToOuterDisposeScope(), kind);
    }

    /// <summary>Bucket index of every coordinate: x (B, H, L, r) → long (B, H, L, r).</summary>
    public Tensor BucketOf(Tensor x)
    {
        var b = Boundaries.to(x.dtype, x.device).unsqueeze(0).unsqueeze(2);                   // (1, H, 1, r, β−1)
        return x.unsqueeze(-1).gt(b).sum(-1);
    }

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        GraphPredictors.Check(q, k, valid);
        Guard.Size(q, nameof(q), 1, Boundaries.shape[0], "heads of the fitted boundaries");
        Guard.Size(q, nameof(q), 3, Boundaries.shape[1], "coordinates of the fitted boundaries");
        using var scope = NewDisposeScope();
        var qb = BucketOf(q);
        var kb = BucketOf(k);
        var graph = zeros_like(valid);
        for (long c = 0; c < q.shape[3]; c++)                                                  // one L × L comparison per coordinate
            graph = graph.logical_or(qb[.., .., .., c].unsqueeze(-1).eq(kb[.., .., .., c].unsqueeze(-2)));
        return graph.logical_and(valid).MoveToOuterDisposeScope();
    }

    public double CostPerQuery(long keyLength, long dim) => 2.0 * dim * (Buckets - 1);
}

/// <summary>
/// Clustering predictor: centroids (H, c, r) per head; key j belongs to its nearest centroid, query i to its
/// <see cref="TopClusters"/> nearest; (i, j) is connected when j's cluster is one of i's. Sparsefinder fits the
/// centroids on projected q′, k′; the Routing Transformer baseline fits them on raw, unit-normalised q, k.
/// </summary>
public sealed class KMeansPredictor : IGraphPredictor
{
    /// <param name="centroids">(heads, clusters, dim)</param>
    /// <param name="topClusters">how many of its nearest clusters a query looks into</param>
    /// <param name="normalize">cluster unit vectors (cosine k-means)</param>
    /// <param name="label">the family's name in tables</param>
    /// <param name="rankAligned">
    /// false: a key is a candidate when its nearest centroid is among the query's top clusters. true: as the authors'
    /// evaluation code does, when the query's and the key's r-th nearest centroids coincide for some r ≤ top.
    /// </param>
    public KMeansPredictor(Tensor centroids, int topClusters = 1, bool normalize = false, string label = "k-means", bool rankAligned = false)
    {
        Guard.FloatingTensor(centroids, nameof(centroids));
        Guard.Rank(centroids, 3, nameof(centroids), "(heads, clusters, dim)");
        if (topClusters < 1 || topClusters > centroids.shape[1])
            throw new ArgumentOutOfRangeException(nameof(topClusters), topClusters, $"topClusters = {topClusters}; expected 1 … {centroids.shape[1]} (the number of clusters).");
        Centroids = centroids.detach().DetachFromDisposeScope();
        TopClusters = topClusters;
        Normalize = normalize;
        Label = label;
        RankAligned = rankAligned;
    }

    /// <summary>Whether top clusters match rank by rank (the authors' evaluation) instead of the key's nearest among the query's top.</summary>
    public bool RankAligned { get; }

    public Tensor Centroids { get; }
    public int Clusters => (int)Centroids.shape[1];
    public int TopClusters { get; }
    public bool Normalize { get; }
    public string Label { get; }
    public string Name => TopClusters == 1 ? $"{Label} c={Clusters}" : $"{Label} c={Clusters} top-{TopClusters}{(RankAligned ? " aligned" : "")}";

    /// <summary>Fits <paramref name="clusters"/> centroids per head on pooled q and k (each (B, H, L, r)) with Lloyd's algorithm.</summary>
    public static KMeansPredictor Fit(Tensor q, Tensor k, int clusters, int topClusters = 1, bool normalize = false,
                                      int iterations = 25, long seed = 0, string label = "k-means", bool rankAligned = false)
    {
        using var scope = NewDisposeScope();
        var points = cat([GraphPredictors.Pool(q, nameof(q)), GraphPredictors.Pool(k, nameof(k))], 1);
        if (normalize) points = nn.functional.normalize(points, dim: -1);
        var centroids = KMeans.Fit(points, clusters, iterations, seed);
        return new KMeansPredictor(centroids.MoveToOuterDisposeScope(), topClusters, normalize, label, rankAligned);
    }

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        GraphPredictors.Check(q, k, valid);
        using var scope = NewDisposeScope();
        if (RankAligned && TopClusters > 1) return PredictRankAligned(q, k, valid).MoveToOuterDisposeScope();
        var (queryClusters, keyCluster) = Assign(q, k);
        var queryMember = zeros(q.shape[0], q.shape[1], q.shape[2], Clusters, dtype: q.dtype, device: q.device)
            .scatter_(-1, queryClusters, ones_like(queryClusters, q.dtype));                                                 // (B, H, Lq, c) 0/1
        var keyMember = zeros(k.shape[0], k.shape[1], k.shape[2], Clusters, dtype: q.dtype, device: q.device)
            .scatter_(-1, keyCluster.unsqueeze(-1), ones_like(keyCluster.unsqueeze(-1), q.dtype));
        return queryMember.matmul(keyMember.transpose(-2, -1)).gt(Scalars.Of(0.5)).logical_and(valid).MoveToOuterDisposeScope();
    }

    private Tensor PredictRankAligned(Tensor q, Tensor k, Tensor valid)
    {
        if (Normalize) { q = nn.functional.normalize(q, dim: -1); k = nn.functional.normalize(k, dim: -1); }
        var c = Centroids.to(q.dtype, q.device).unsqueeze(0);
        var queryTop = GraphPredictors.SquaredDistances(q, c).topk(TopClusters, dim: -1, largest: false).indexes;      // (B, H, Lq, top)
        var keyTop = GraphPredictors.SquaredDistances(k, c).topk(TopClusters, dim: -1, largest: false).indexes;        // (B, H, Lk, top)
        return queryTop.unsqueeze(3).eq(keyTop.unsqueeze(2)).any(-1).logical_and(valid);                               // some rank r: same r-th cluster
    }

    /// <summary>Each query's top clusters (B, H, Lq, top) and each key's nearest cluster (B, H, Lk).</summary>
    public (Tensor QueryClusters, Tensor KeyCluster) Assign(Tensor q, Tensor k)
    {
        Guard.Size(q, nameof(q), 1, Centroids.shape[0], "heads of the fitted centroids");
        Guard.Size(q, nameof(q), 3, Centroids.shape[2], "dim of the fitted centroids");
        using var scope = NewDisposeScope();
        if (Normalize) { q = nn.functional.normalize(q, dim: -1); k = nn.functional.normalize(k, dim: -1); }
        var c = Centroids.to(q.dtype, q.device).unsqueeze(0);                                  // (1, H, c, r)
        var queryClusters = GraphPredictors.SquaredDistances(q, c).topk(TopClusters, dim: -1, largest: false).indexes;
        var keyCluster = GraphPredictors.SquaredDistances(k, c).argmin(-1);
        return (queryClusters.MoveToOuterDisposeScope(), keyCluster.MoveToOuterDisposeScope());
    }

    public double CostPerQuery(long keyLength, long dim) => 2.0 * Clusters * dim;
}

/// <summary>Lloyd's k-means, batched over heads.</summary>
public static class KMeans
{
    /// <summary>
    /// points (H, N, r) → centroids (H, c, r): seeded initialisation at c distinct random points per head, then
    /// <paramref name="iterations"/> rounds of assign-to-nearest and move-to-mean (an empty cluster keeps its centroid).
    /// </summary>
    public static Tensor Fit(Tensor points, int clusters, int iterations = 25, long seed = 0)
    {
        Guard.FloatingTensor(points, nameof(points));
        Guard.Rank(points, 3, nameof(points), "(heads, points, dim)");
        if (clusters < 1 || clusters > points.shape[1])
            throw new ArgumentOutOfRangeException(nameof(clusters), clusters, $"clusters = {clusters}; expected 1 … {points.shape[1]} (the number of points).");
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"iterations = {iterations}; expected ≥ 0.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = points.detach();
        long heads = x.shape[0], n = x.shape[1];
        var generator = new Generator((ulong)seed, device("cpu"));
        var start = stack(Enumerable.Range(0, (int)heads).Select(_ => randperm(n, generator: generator)[..clusters]).ToArray()).to(x.device); // (H, c)
        var centroids = x.gather(1, start.unsqueeze(-1).expand(heads, clusters, x.shape[2]));                                              // (H, c, r)
        for (int it = 0; it < iterations; it++)
        {
            var nearest = GraphPredictors.SquaredDistances(x, centroids).argmin(-1, keepdim: true);                                    // (H, N, 1)
            var member = zeros(heads, n, clusters, dtype: x.dtype, device: x.device).scatter_(-1, nearest, ones_like(nearest, x.dtype));                      // (H, N, c)
            var counts = member.sum(1).unsqueeze(-1);                                                                                  // (H, c, 1)
            var means = member.transpose(1, 2).matmul(x) / counts.clamp_min(Scalars.One);
            centroids = where(counts.gt(Scalars.Zero), means, centroids);
        }
        return centroids.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Ĝ of an inner predictor, unioned with a local window |i − j| ≤ w and the first g keys; with
/// <c>specialTokens</c>, also the authors' two "CLS" tokens (their <c>--cls_size 2</c>): every query keeps the first
/// key and the last real key of its row, and the first and last real queries keep every key.
/// </summary>
public sealed class WithWindow : IGraphPredictor
{
    public WithWindow(IGraphPredictor inner, int window, int firstKeys = 0, bool specialTokens = false)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, $"window = {window}; expected ≥ 0.");
        if (firstKeys < 0) throw new ArgumentOutOfRangeException(nameof(firstKeys), firstKeys, $"firstKeys = {firstKeys}; expected ≥ 0.");
        Window = window;
        FirstKeys = firstKeys;
        SpecialTokens = specialTokens;
    }

    /// <summary>Whether the first and last real tokens are global (they see every key and every query sees them).</summary>
    public bool SpecialTokens { get; }

    public IGraphPredictor Inner { get; }
    public int Window { get; }
    public int FirstKeys { get; }
    public string Name => $"{Inner.Name} + w={Window}" + (FirstKeys > 0 ? $" + first {FirstKeys}" : "") + (SpecialTokens ? " + CLS/SEP" : "");

    public Tensor Predict(Tensor q, Tensor k, Tensor valid)
    {
        using var scope = NewDisposeScope();
        var always = SparsePatterns.Longformer(q.shape[2], k.shape[2], Window, 0, q.device);              // the band |i − j| ≤ w
        if (FirstKeys > 0) always = always.logical_or(Scalars.Arange(k.shape[2], q.device).lt(Scalars.Of(FirstKeys))); // keys j < first
        var graph = Inner.Predict(q, k, valid).logical_or(always);
        if (SpecialTokens) graph = graph.logical_or(SpecialTokenPairs(valid));
        return graph.logical_and(valid).MoveToOuterDisposeScope();
    }

    public double CostPerQuery(long keyLength, long dim) => Inner.CostPerQuery(keyLength, dim);

    /// <summary>
    /// (…, Lq, Lk): pairs with the first key, or the last valid key of the row, or from the first query, or from the last
    /// query that has a valid key (padding at the end, as in the batches here).
    /// </summary>
    public static Tensor SpecialTokenPairs(Tensor valid)
    {
        long lq = valid.shape[^2], lk = valid.shape[^1];
        var keys = Scalars.Arange(lk, valid.device);
        var lastKey = valid.to(ScalarType.Int64).mul(keys).amax(new long[] { -1 }, keepdim: true);                 // (…, Lq, 1)
        var columns = keys.eq(Scalars.Zero).logical_or(keys.eq(lastKey));
        var queries = Scalars.Arange(lq, valid.device).unsqueeze(-1);                                             // (Lq, 1)
        var lastQuery = valid.any(-1, keepdim: true).to(ScalarType.Int64).mul(queries).amax(new long[] { -2 }, keepdim: true);   // (…, 1, 1)
        var rows = queries.eq(Scalars.Zero).logical_or(queries.eq(lastQuery));
        return columns.logical_or(rows);
    }
}

/// <summary>Shared helpers of the predictors.</summary>
public static class GraphPredictors
{
    /// <summary>‖aᵢ − bⱼ‖² for a (…, N, r), b (…, M, r) → (…, N, M), clamped at 0.</summary>
    public static Tensor SquaredDistances(Tensor a, Tensor b)
    {
        var a2 = a.mul(a).sum(-1, keepdim: true);
        var b2 = b.mul(b).sum(-1, keepdim: true).transpose(-2, -1);
        return a2.add(b2, Scalars.One).add_(a.matmul(b.transpose(-2, -1)), Scalars.Of(-2)).clamp_min(Scalars.Zero);   // ‖a‖² + ‖b‖² − 2a·b
    }

    /// <summary>(B, H, L, r) → (H, B·L, r): every vector of a head pooled for fitting.</summary>
    public static Tensor Pool(Tensor x, string name)
    {
        Guard.FloatingTensor(x, name);
        Guard.Rank(x, 4, name, "(batch, heads, length, dim)");
        return x.detach().transpose(0, 1).reshape(x.shape[1], -1, x.shape[3]);
    }

    internal static void Check(Tensor q, Tensor k, Tensor valid)
    {
        Guard.FloatingTensor(q, nameof(q));
        Guard.FloatingTensor(k, nameof(k));
        Guard.Rank(q, 4, nameof(q), "(batch, heads, queries, dim)");
        Guard.Rank(k, 4, nameof(k), "(batch, heads, keys, dim)");
        Guard.Size(k, nameof(k), 0, q.shape[0], "batch, as in q");
        Guard.Size(k, nameof(k), 1, q.shape[1], "heads, as in q");
        Guard.Size(k, nameof(k), 3, q.shape[3], "dim, as in q");
        GraphCounts.CheckGraph(valid, nameof(valid));
        long[] expected = [q.shape[0], q.shape[1], q.shape[2], k.shape[2]];
        if (!valid.shape.SequenceEqual(expected))
            throw new ArgumentException($"valid has shape {Guard.Shape(valid)}; expected ({string.Join(", ", expected)}) = (B, H, Lq, Lk).", nameof(valid));
    }
}
