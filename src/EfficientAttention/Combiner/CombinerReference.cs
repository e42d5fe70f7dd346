namespace EfficientAttention;

/// <summary>
/// Combiner written out per query from eq. 7, in double precision, for one head: for each query, list its direct keys
/// and its regions, take one softmax over their logits and spread each region's probability over its keys with the
/// region's own weights. Returns the output and the full L × L attention matrix it implies. The oracle for
/// <see cref="Combiner"/>; O(L²·d) and slow on purpose. With key padding (<c>real[j]</c> false: j is padding) every
/// direct key and region is cut to its real positions, empty regions are dropped, Axial's anchor falls back to the
/// region's max-pooled queries when the anchor is padding, and a query with nothing left gets zeros.
/// </summary>
public static class CombinerReference
{
    /// <summary>A region: its key positions and how it is summarised (max-pooled, or anchored at one position's query).</summary>
    public sealed record Region(int[] Positions, int? Anchor);

    public static (double[,] Output, double[,] Attention) Attend(double[,] q, double[,] k, double[,] v, CombinerOptions options, bool[]? real = null)
    {
        int l = q.GetLength(0), d = q.GetLength(1), dv = v.GetLength(1);
        bool Real(int j) => real is null || real[j];
        double scale = 1 / Math.Sqrt(d);
        double Dot(double[] a, int j) => Enumerable.Range(0, d).Sum(c => a[c] * k[j, c]) * scale;
        double[] Row(double[,] x, int i) => Enumerable.Range(0, x.GetLength(1)).Select(c => x[i, c]).ToArray();
        double[] Max(double[,] x, int[] positions) => Enumerable.Range(0, x.GetLength(1)).Select(c => positions.Max(j => x[j, c])).ToArray();

        var attention = new double[l, l];
        for (int i = 0; i < l; i++)
        {
            var (allDirect, allRegions) = Partition(i, l, options);
            var direct = allDirect.Where(Real).ToArray();
            var regions = allRegions.Select(r => r with { Positions = r.Positions.Where(Real).ToArray() }).Where(r => r.Positions.Length > 0).ToList();
            if (direct.Length + regions.Count == 0) continue;                      // nothing to attend: a zero row
            var qi = Row(q, i);
            var within = regions.Select(r =>
            {
                var weightQuery = r.Anchor is { } anchor && Real(anchor) ? Row(q, anchor) : Max(q, r.Positions);
                var w = Softmax(r.Positions.Select(j => Dot(weightQuery, j)).ToArray());
                var key = r.Anchor is null ? Max(k, r.Positions)
                    : Enumerable.Range(0, d).Select(c => r.Positions.Select((j, t) => w[t] * k[j, c]).Sum()).ToArray();
                return (Weights: w, Key: key);
            }).ToArray();
            var logits = direct.Select(j => Dot(qi, j)).Concat(within.Select(r => qi.Zip(r.Key, (a, b) => a * b).Sum() * scale)).ToArray();
            var p = Softmax(logits);
            for (int t = 0; t < direct.Length; t++) attention[i, direct[t]] += p[t];
            for (int r = 0; r < regions.Count; r++)
                for (int t = 0; t < regions[r].Positions.Length; t++)
                    attention[i, regions[r].Positions[t]] += p[direct.Length + r] * within[r].Weights[t];
        }
        var output = new double[l, dv];
        for (int i = 0; i < l; i++)
            for (int j = 0; j < l; j++)
                for (int c = 0; c < dv; c++) output[i, c] += attention[i, j] * v[j, c];
        return (output, attention);
    }

    /// <summary>Query i's direct keys and regions, from the partition's definition (positions ≥ L do not exist).</summary>
    public static (int[] Direct, List<Region> Regions) Partition(int i, int length, CombinerOptions options)
    {
        int s = options.BlockSize;
        bool causal = options.Causal;
        bool Visible(int j) => j >= 0 && j < length && (!causal || j <= i);
        int[] Range(int start, int count) => Enumerable.Range(start, count).Where(j => j >= 0 && j < length).ToArray();
        var regions = new List<Region>();
        int block = i / s, rows = (length + s - 1) / s;
        var ownBlock = Range(block * s, s).Where(Visible).ToArray();
        switch (options.Partition)
        {
            case CombinerPartition.Fixed:
                for (int other = 0; other < rows; other++)
                    if (causal ? other < block : other != block) regions.Add(new Region(Range(other * s, s), null));
                return (ownBlock, regions);
            case CombinerPartition.Logsparse:
                int levels = (int)Math.Ceiling(Math.Log2(Math.Max(1, rows)) - 1e-12);
                for (int level = 0; level < levels; level++)
                {
                    int span = s << level, node = i / span, sibling = node ^ 1;
                    if (!causal || sibling < node) regions.Add(new Region(Range(sibling * span, span), null));
                }
                return (ownBlock, regions.Where(r => r.Positions.Length > 0).ToList());
            case CombinerPartition.Axial:
                for (int other = 0; other < rows; other++)
                    if (causal ? other < block : other != block) regions.Add(new Region(Range(other * s, s), other * s + i % s));
                return (ownBlock, regions);
            case CombinerPartition.Mixture:
                int column = i % s;
                var direct = ownBlock.ToList();
                for (int other = 0; other < rows; other++)
                {
                    if (!(causal ? other < block : other != block)) continue;
                    direct.Add(other * s + column);
                    if (column > 0) regions.Add(new Region(Range(other * s, column), null));
                    if (column < s - 1) regions.Add(new Region(Range(other * s + column + 1, s - column - 1), null));
                }
                return (direct.ToArray(), regions);
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Partition, "unknown partition");
        }
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(x => Math.Exp(x - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }
}
