using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Attention graphs as dense boolean tensors (B, H, Lq, Lk): entry (i, j) is true when query i is connected to key j.
/// The gold graph of an entmax head is its support; predictors build a graph Ĝ before any score is computed.
/// </summary>
public static class AttentionGraph
{
    /// <summary>
    /// The gold graph G = {(i, j) : p_ij &gt; 0} of probabilities (B, H, Lq, Lk) returned by an entmax head. Masked pairs
    /// have p = 0 and so are never in G.
    /// </summary>
    public static Tensor Gold(Tensor probabilities)
    {
        Guard.FloatingTensor(probabilities, nameof(probabilities));
        Guard.Rank(probabilities, 4, nameof(probabilities), "(batch, heads, queries, keys)");
        return probabilities.gt(Scalars.Zero);
    }

    /// <summary>The pairs a mask allows, expanded to (B, H, Lq, Lk) (all true without a mask).</summary>
    public static Tensor Valid(AttentionMask? mask, long batch, long heads, long queryLength, long keyLength, Device device)
    {
        var dense = mask?.ToDense(batch, heads, queryLength, keyLength, device);
        return dense is null
            ? ones(new[] { batch, heads, queryLength, keyLength }, ScalarType.Bool, device)
            : dense.expand(batch, heads, queryLength, keyLength).contiguous();
    }
}

/// <summary>
/// Pair counts from which every graph metric follows; counts add over batches, heads and layers, so averages are exact.
/// </summary>
/// <param name="Valid">pairs the mask allows</param>
/// <param name="Predicted">pairs in Ĝ (inside the mask)</param>
/// <param name="Gold">pairs in G</param>
/// <param name="Hits">pairs in Ĝ ∩ G</param>
/// <param name="Queries">queries with at least one valid key</param>
/// <param name="ExactQueries">queries whose predicted keys contain their whole gold support</param>
/// <param name="GoldMass">Σ p_ij over G (one per query with a key); NaN when no probabilities were given</param>
/// <param name="HitMass">Σ p_ij over Ĝ ∩ G; NaN when no probabilities were given</param>
public sealed record GraphCounts(long Valid, long Predicted, long Gold, long Hits, long Queries, long ExactQueries,
                                 double GoldMass = double.NaN, double HitMass = double.NaN)
{
    public static GraphCounts Zero { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>1 − |Ĝ| / |valid pairs|: the share of the attention matrix never computed.</summary>
    public double Sparsity => Valid == 0 ? 0 : 1 - (double)Predicted / Valid;

    /// <summary>|Ĝ ∩ G| / |G|: the share of gold pairs the predictor keeps.</summary>
    public double Recall => Gold == 0 ? 1 : (double)Hits / Gold;

    /// <summary>The share of queries for which entmax over Ĝ equals full entmax exactly (Ĝ ⊇ that query's support).</summary>
    public double ExactFraction => Queries == 0 ? 1 : (double)ExactQueries / Queries;

    /// <summary>
    /// Σ_{Ĝ ∩ G} p / Σ_G p: the share of attention mass on the kept gold pairs. Missed pairs with little weight cost little,
    /// so a graph can keep a model's quality at modest <see cref="Recall"/> when this stays near 1. NaN when not measured.
    /// </summary>
    public double MassRecall => GoldMass == 0 ? 1 : HitMass / GoldMass;

    /// <summary>1 − |G| / |valid pairs|: the head's own sparsity.</summary>
    public double GoldSparsity => Valid == 0 ? 0 : 1 - (double)Gold / Valid;

    public static GraphCounts operator +(GraphCounts a, GraphCounts b) => new(a.Valid + b.Valid, a.Predicted + b.Predicted,
        a.Gold + b.Gold, a.Hits + b.Hits, a.Queries + b.Queries, a.ExactQueries + b.ExactQueries, a.GoldMass + b.GoldMass, a.HitMass + b.HitMass);

    public override string ToString() => $"sparsity {Sparsity:P1}, recall {Recall:P1}, exact {ExactFraction:P1} (gold sparsity {GoldSparsity:P1})";

    /// <summary>
    /// Counts for all heads together. All three graphs are bool (B, H, Lq, Lk); Ĝ is first restricted to valid. With the
    /// head's <paramref name="probabilities"/> (same shape) the masses are measured too.
    /// </summary>
    public static GraphCounts Of(Tensor predicted, Tensor gold, Tensor valid, Tensor? probabilities = null) =>
        PerHead(predicted, gold, valid, probabilities).Aggregate(Zero, (a, b) => a + b);

    /// <summary>Counts per head (index h), summed over batch and queries.</summary>
    public static GraphCounts[] PerHead(Tensor predicted, Tensor gold, Tensor valid, Tensor? probabilities = null)
    {
        CheckGraph(predicted, nameof(predicted));
        CheckGraph(gold, nameof(gold));
        CheckGraph(valid, nameof(valid));
        if (!predicted.shape.SequenceEqual(gold.shape) || !valid.shape.SequenceEqual(gold.shape))
            throw new ArgumentException($"predicted {Guard.Shape(predicted)}, gold {Guard.Shape(gold)} and valid {Guard.Shape(valid)}; expected one shape (B, H, Lq, Lk).", nameof(predicted));
        if (probabilities is not null && (!probabilities.is_floating_point() || !probabilities.shape.SequenceEqual(gold.shape)))
            throw new ArgumentException($"probabilities has shape {Guard.Shape(probabilities)} and dtype {probabilities.dtype}; expected floating point {Guard.Shape(gold)}.", nameof(probabilities));
        using var scope = NewDisposeScope();
        var p = predicted.logical_and(valid);
        var g = gold.logical_and(valid);
        long[] pairs = [0, 2, 3];
        long[] Sum(Tensor t, long[] dims) => t.sum(dims, type: ScalarType.Int64).cpu().data<long>().ToArray();   // no Int64 copy of the graph
        var validCount = Sum(valid, pairs);
        var predictedCount = Sum(p, pairs);
        var goldCount = Sum(g, pairs);
        var hits = Sum(p.logical_and(g), pairs);
        var hasKey = valid.any(-1);                                                   // (B, H, Lq)
        var exact = g.logical_and(p.logical_not()).any(-1).logical_not().logical_and(hasKey);
        var queries = Sum(hasKey, [0, 2]);
        var exactQueries = Sum(exact, [0, 2]);
        double[] Mass(Tensor where) => probabilities!.mul(where).sum(pairs, type: ScalarType.Float64).cpu().data<double>().ToArray();
        var goldMass = probabilities is null ? null : Mass(g);
        var hitMass = probabilities is null ? null : Mass(p.logical_and(g));
        return Enumerable.Range(0, validCount.Length)
            .Select(h => new GraphCounts(validCount[h], predictedCount[h], goldCount[h], hits[h], queries[h], exactQueries[h],
                                         goldMass?[h] ?? double.NaN, hitMass?[h] ?? double.NaN)).ToArray();
    }

    internal static void CheckGraph(Tensor graph, string name)
    {
        if (graph is null) throw new ArgumentNullException(name);
        if (graph.dtype != ScalarType.Bool || graph.dim() != 4)
            throw new ArgumentException($"{name} has shape {Guard.Shape(graph)} and dtype {graph.dtype}; expected a Bool graph (B, H, Lq, Lk).", name);
    }
}

/// <summary>A method's sweep over its setting, read at a chosen sparsity: how methods are compared "at equal sparsity".</summary>
public static class SparsityCurve
{
    /// <summary>
    /// <paramref name="metric"/> at <paramref name="sparsity"/>, interpolated linearly between the two swept settings whose
    /// sparsities bracket it (the upper envelope where settings cross); NaN when the sweep does not reach that sparsity
    /// on both sides — a method is not credited with a point it never produced.
    /// </summary>
    public static double At(IEnumerable<GraphCounts> sweep, double sparsity, Func<GraphCounts, double> metric) =>
        At(sweep.Select(c => (c.Sparsity, metric(c))), sparsity);

    /// <summary>The same on (sparsity, value) pairs already measured (e.g. read from a stored record).</summary>
    public static double At(IEnumerable<(double Sparsity, double Value)> sweep, double sparsity)
    {
        if (!(sparsity >= 0 && sparsity <= 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, $"sparsity = {sparsity}; expected 0 ≤ s ≤ 1.");
        var points = sweep.Select(p => (S: p.Sparsity, Y: p.Value)).OrderBy(p => p.S).ToArray();
        double best = double.NaN;
        for (int i = 0; i < points.Length; i++)
            for (int j = i; j < points.Length; j++)
            {
                var (a, b) = (points[i], points[j]);
                if (a.S > sparsity || b.S < sparsity) continue;
                double y = b.S == a.S ? Math.Max(a.Y, b.Y) : a.Y + (b.Y - a.Y) * (sparsity - a.S) / (b.S - a.S);
                if (double.IsNaN(best) || y > best) best = y;
            }
        return best;
    }
}
