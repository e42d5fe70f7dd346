using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Routed layouts built straight from a k-means predictor, without the L × L graph: keys are sorted by their cluster
/// (one argsort), each cluster's keys form a padded list, and a query's candidates are the lists of its top clusters,
/// plus — for "k-means + window" — the keys of its local window that are not already among them. O(L·m) memory, where
/// m = top clusters × largest cluster (+ window); the graph <see cref="KMeansPredictor.Predict"/> would build is
/// exactly <see cref="RoutedLayout.ToGraph"/> of this layout (tested).
/// </summary>
public static class ClusterLayout
{
    /// <summary>
    /// The layout of <paramref name="predictor"/> on q (B, H, Lq, r) and k (B, H, Lk, r): causal when
    /// <paramref name="causal"/> (key j ≤ query i), unioned with the band |i − j| ≤ <paramref name="window"/> when it is ≥ 0.
    /// </summary>
    public static RoutedLayout Build(KMeansPredictor predictor, Tensor q, Tensor k, bool causal, int window = -1)
    {
        Guard.FloatingTensor(q, nameof(q));
        Guard.FloatingTensor(k, nameof(k));
        Guard.Rank(q, 4, nameof(q), "(batch, heads, queries, dim)");
        Guard.Rank(k, 4, nameof(k), "(batch, heads, keys, dim)");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = q.shape[0], h = q.shape[1], lq = q.shape[2], lk = k.shape[2];
        int clusters = predictor.Clusters;
        var (queryClusters, keyCluster) = predictor.Assign(q, k);                     // (B, H, Lq, T), (B, H, Lk)

        var (clusterLists, clusterFilled) = Lists(keyCluster, clusters);               // (B, H, C, M)
        long longest = clusterLists.shape[3];
        var lists = clusterLists.view(b, h, clusters * longest);
        var filled = clusterFilled.view(b, h, clusters * longest);
        long top = queryClusters.shape[3];
        var pick = queryClusters.unsqueeze(-1).mul(Scalars.Of(longest)).add(Scalars.Arange(longest, q.device), Scalars.One).reshape(b, h, lq, top * longest);
        var indices = lists.unsqueeze(2).expand(b, h, lq, clusters * longest).gather(-1, pick);   // (B, H, Lq, T·M)
        var present = filled.unsqueeze(2).expand(b, h, lq, clusters * longest).gather(-1, pick);
        var rows = Scalars.Arange(lq, q.device).view(1, 1, lq, 1);
        if (window >= 0)
        {
            var offsets = arange(Scalars.Of(-window), Scalars.Of(window + 1), Scalars.One, ScalarType.Int64, q.device);
            var band = rows.add(offsets, Scalars.One).expand(b, h, lq, 2 * window + 1);              // keys i − w … i + w
            var inRange = band.ge(Scalars.Zero).logical_and(band.lt(Scalars.Of(lk)));
            var bandIndex = band.clamp(Scalars.Zero, Scalars.Of(lk - 1));
            var bandCluster = keyCluster.unsqueeze(2).expand(b, h, lq, lk).gather(-1, bandIndex);
            var already = bandCluster.unsqueeze(-1).eq(queryClusters.unsqueeze(-2)).any(-1);   // in a chosen cluster: listed once
            indices = cat([indices, bandIndex], -1);
            present = cat([present, inRange.logical_and(already.logical_not())], -1);
        }
        if (causal) present = present.logical_and(indices.le(rows));
        return new RoutedLayout(indices.MoveToOuterDisposeScope(), present.MoveToOuterDisposeScope(), lk);
    }

    /// <summary>
    /// The positions of each cluster, as padded lists: assignment (B, H, L) of cluster ids → lists (B, H, C, M) of
    /// positions (ascending inside a cluster; one argsort) and present (B, H, C, M), M = the largest cluster (≥ 1).
    /// </summary>
    public static (Tensor Lists, Tensor Present) Lists(Tensor assignment, int clusters)
    {
        using var scope = NewDisposeScope();
        long b = assignment.shape[0], h = assignment.shape[1], l = assignment.shape[2];
        var (sorted, order) = assignment.sort(-1, stable: true);                       // positions grouped by cluster
        var counts = zeros(new[] { b, h, (long)clusters }, ScalarType.Int64, assignment.device).scatter_add_(-1, assignment, ones_like(assignment));
        long longest = Math.Max(1, counts.max().item<long>());
        var starts = counts.cumsum(-1) - counts;                                        // exclusive prefix sums
        var slot = sorted.mul(Scalars.Of(longest)).add(Scalars.Arange(l, assignment.device), Scalars.One) - starts.gather(-1, sorted);
        var lists = zeros(new[] { b, h, clusters * longest }, ScalarType.Int64, assignment.device).scatter_(-1, slot, order);
        var present = zeros(new[] { b, h, clusters * longest }, ScalarType.Bool, assignment.device).scatter_(-1, slot, ones_like(order, ScalarType.Bool));
        return (lists.view(b, h, clusters, longest).MoveToOuterDisposeScope(), present.view(b, h, clusters, longest).MoveToOuterDisposeScope());
    }
}

/// <summary>
/// Routed 1.5-entmax for a top-1 k-means predictor, computed block by block: queries and keys are sorted by cluster
/// (padded lists), each cluster's queries attend to that cluster's keys with one dense matmul, and the outputs are
/// scattered back to their positions. The graph is Ĝ = {(i, j) : cluster(qᵢ) = cluster(kⱼ)} ∩ causal — what
/// <see cref="KMeansPredictor"/> with one top cluster predicts — and the result equals <see cref="RoutedEntmax.Attend"/>
/// over that graph; the work is Σ_c |Q_c|·|K_c|·d (about L²d / clusters when clusters are balanced), at BLAS speed, and
/// no L × L tensor exists. A query whose cluster has no allowed key outputs zeros.
/// </summary>
public static class ClusteredEntmax
{
    /// <summary>q (B, H, Lq, d), k (B, H, Lk, d), v (B, H, Lk, dᵥ); the clusters from <paramref name="predictor"/> on the projected qp, kp.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, KMeansPredictor predictor, Tensor qp, Tensor kp, bool causal)
    {
        var (batch, heads, lq, lk) = ScaledDotProductAttention.Check(q, k, v);
        if (predictor.TopClusters != 1)
            throw new ArgumentException($"predictor.TopClusters = {predictor.TopClusters}; clustered attention needs one cluster per query (use ClusterLayout for more).", nameof(predictor));
        using var scope = NewDisposeScope();
        Tensor queryCluster, keyCluster;
        using (no_grad())
        {
            var (top, keys) = predictor.Assign(qp, kp);
            (queryCluster, keyCluster) = (top.squeeze(-1), keys);
        }
        int clusters = predictor.Clusters;
        var (queryLists, queryPresent) = ClusterLayout.Lists(queryCluster, clusters);  // (B, H, C, Mq)
        var (keyLists, keyPresent) = ClusterLayout.Lists(keyCluster, clusters);        // (B, H, C, Mk)
        long d = q.shape[3], dv = v.shape[3], mq = queryLists.shape[3], mk = keyLists.shape[3];
        var qc = RoutedEntmax.Gather(q, queryLists);                                                  // (B, H, C, Mq, d)
        var kc = RoutedEntmax.Gather(k, keyLists);
        var vc = RoutedEntmax.Gather(v, keyLists);
        var allowed = queryPresent.unsqueeze(-1).logical_and(keyPresent.unsqueeze(-2));   // (B, H, C, Mq, Mk)
        if (causal) allowed = allowed.logical_and(keyLists.unsqueeze(-2).le(queryLists.unsqueeze(-1)));
        var scores = qc.matmul(kc.transpose(-2, -1)).div_(Scalars.Of(Math.Sqrt(d))).masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var p = Normalizers.Entmax15(scores);                                         // fully masked rows (padding): zeros
        var blocks = p.matmul(vc).view(batch, heads, clusters * mq, dv);
        var where = queryLists.view(batch, heads, clusters * mq, 1).expand(batch, heads, clusters * mq, dv);
        var output = zeros(new[] { batch, heads, lq, dv }, q.dtype, q.device).scatter_add(2, where, blocks);   // padding adds zeros
        return output.MoveToOuterDisposeScope();
    }
}
