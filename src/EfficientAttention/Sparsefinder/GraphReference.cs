namespace EfficientAttention;

/// <summary>
/// O(L²) loop versions of the graph predictors for one head, in double precision, written from their definitions:
/// the oracles the vectorised predictors are tested against. q (Lq × r), k (Lk × r), valid (Lq × Lk).
/// </summary>
public static class GraphReference
{
    public static bool[,] Distance(double[,] q, double[,] k, bool[,] valid, double threshold)
        => Build(valid, (i, j) => Math.Sqrt(SquaredDistance(Row(q, i), Row(k, j))) < threshold);

    /// <summary>boundaries[c] ascending (β − 1 values) for coordinate c; bucket = number of boundaries strictly below x.</summary>
    public static bool[,] Buckets(double[,] q, double[,] k, bool[,] valid, double[][] boundaries)
    {
        int Bucket(double x, int c) => boundaries[c].Count(b => x > b);
        return Build(valid, (i, j) => Enumerable.Range(0, q.GetLength(1)).Any(c => Bucket(q[i, c], c) == Bucket(k[j, c], c)));
    }

    /// <summary>Key j in its nearest cluster; query i in its <paramref name="top"/> nearest; connected when those meet.</summary>
    public static bool[,] Clusters(double[,] q, double[,] k, bool[,] valid, double[][] centroids, int top, bool normalize)
    {
        double[] Prepare(double[] x) => normalize ? Normalized(x) : x;
        int[] Ranked(double[] x) => Enumerable.Range(0, centroids.Length).OrderBy(c => SquaredDistance(Prepare(x), centroids[c])).ThenBy(c => c).ToArray();
        var queryClusters = Enumerable.Range(0, q.GetLength(0)).Select(i => Ranked(Row(q, i)).Take(top).ToHashSet()).ToArray();
        var keyCluster = Enumerable.Range(0, k.GetLength(0)).Select(j => Ranked(Row(k, j))[0]).ToArray();
        return Build(valid, (i, j) => queryClusters[i].Contains(keyCluster[j]));
    }

    /// <summary>Sliding window |i − j| ≤ w, optionally with g global tokens (Longformer).</summary>
    public static bool[,] Window(bool[,] valid, int window, int global = 0)
        => Build(valid, (i, j) => Math.Abs(i - j) <= window || i < global || j < global);

    /// <summary>Sparse Transformer fixed pattern with stride s and c summary positions.</summary>
    public static bool[,] Fixed(bool[,] valid, int stride, int summary)
        => Build(valid, (i, j) => i / stride == j / stride || j % stride >= stride - summary);

    /// <summary>Sparse Transformer strided pattern.</summary>
    public static bool[,] Strided(bool[,] valid, int stride)
        => Build(valid, (i, j) => Math.Abs(i - j) < stride || ((i - j) % stride + stride) % stride == 0);

    /// <summary>LSH: rotations[round] is d × β/2; bucket = argmax over [xR, −xR] of the unit-normalised x.</summary>
    public static bool[,] Lsh(double[,] q, double[,] k, bool[,] valid, double[][,] rotations)
    {
        int Hash(double[] x, double[,] r)
        {
            var u = Normalized(x);
            int half = r.GetLength(1);
            var projected = Enumerable.Range(0, half).Select(b => Enumerable.Range(0, u.Length).Sum(c => u[c] * r[c, b])).ToArray();
            var both = projected.Concat(projected.Select(p => -p)).ToArray();
            return Array.IndexOf(both, both.Max());
        }
        return Build(valid, (i, j) => rotations.Any(r => Hash(Row(q, i), r) == Hash(Row(k, j), r)));
    }

    private static bool[,] Build(bool[,] valid, Func<int, int, bool> connected)
    {
        int lq = valid.GetLength(0), lk = valid.GetLength(1);
        var graph = new bool[lq, lk];
        for (int i = 0; i < lq; i++)
            for (int j = 0; j < lk; j++)
                graph[i, j] = valid[i, j] && connected(i, j);
        return graph;
    }

    private static double[] Row(double[,] a, int i) => Enumerable.Range(0, a.GetLength(1)).Select(c => a[i, c]).ToArray();

    private static double SquaredDistance(double[] a, double[] b) => a.Zip(b).Sum(p => (p.First - p.Second) * (p.First - p.Second));

    private static double[] Normalized(double[] x)
    {
        double norm = Math.Max(Math.Sqrt(x.Sum(v => v * v)), 1e-12);
        return x.Select(v => v / norm).ToArray();
    }
}
