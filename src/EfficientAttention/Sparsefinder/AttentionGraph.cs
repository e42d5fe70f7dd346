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
        return probabilities.gt(0);
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
public sealed record GraphCounts(long Valid, long Predicted, long Gold, long Hits, long Queries, long ExactQueries)
{
    public static GraphCounts Zero { get; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>1 − |Ĝ| / |valid pairs|: the share of the attention matrix never computed.</summary>
    public double Sparsity => Valid == 0 ? 0 : 1 - (double)Predicted / Valid;

    /// <summary>|Ĝ ∩ G| / |G|: the share of gold pairs the predictor keeps.</summary>
    public double Recall => Gold == 0 ? 1 : (double)Hits / Gold;

    /// <summary>The share of queries for which entmax over Ĝ equals full entmax exactly (Ĝ ⊇ that query's support).</summary>
    public double ExactFraction => Queries == 0 ? 1 : (double)ExactQueries / Queries;

    /// <summary>1 − |G| / |valid pairs|: the head's own sparsity.</summary>
    public double GoldSparsity => Valid == 0 ? 0 : 1 - (double)Gold / Valid;

    public static GraphCounts operator +(GraphCounts a, GraphCounts b) => new(a.Valid + b.Valid, a.Predicted + b.Predicted,
        a.Gold + b.Gold, a.Hits + b.Hits, a.Queries + b.Queries, a.ExactQueries + b.ExactQueries);

    public override string ToString() => $"sparsity {Sparsity:P1}, recall {Recall:P1}, exact {ExactFraction:P1} (gold sparsity {GoldSparsity:P1})";

    /// <summary>Counts for all heads together. All three graphs are bool (B, H, Lq, Lk); Ĝ is first restricted to valid.</summary>
    public static GraphCounts Of(Tensor predicted, Tensor gold, Tensor valid) => PerHead(predicted, gold, valid).Aggregate(Zero, (a, b) => a + b);

    /// <summary>Counts per head (index h), summed over batch and queries.</summary>
    public static GraphCounts[] PerHead(Tensor predicted, Tensor gold, Tensor valid)
    {
        CheckGraph(predicted, nameof(predicted));
        CheckGraph(gold, nameof(gold));
        CheckGraph(valid, nameof(valid));
        if (!predicted.shape.SequenceEqual(gold.shape) || !valid.shape.SequenceEqual(gold.shape))
            throw new ArgumentException($"predicted {Guard.Shape(predicted)}, gold {Guard.Shape(gold)} and valid {Guard.Shape(valid)}; expected one shape (B, H, Lq, Lk).", nameof(predicted));
        using var scope = NewDisposeScope();
        var p = predicted.logical_and(valid);
        var g = gold.logical_and(valid);
        long[] pairs = [0, 2, 3];
        long[] Sum(Tensor t, long[] dims) => t.to(ScalarType.Int64).sum(dims).cpu().data<long>().ToArray();
        var validCount = Sum(valid, pairs);
        var predictedCount = Sum(p, pairs);
        var goldCount = Sum(g, pairs);
        var hits = Sum(p.logical_and(g), pairs);
        var hasKey = valid.any(-1);                                                   // (B, H, Lq)
        var exact = g.logical_and(p.logical_not()).any(-1).logical_not().logical_and(hasKey);
        var queries = Sum(hasKey, [0, 2]);
        var exactQueries = Sum(exact, [0, 2]);
        return Enumerable.Range(0, validCount.Length)
            .Select(h => new GraphCounts(validCount[h], predictedCount[h], goldCount[h], hits[h], queries[h], exactQueries[h])).ToArray();
    }

    internal static void CheckGraph(Tensor graph, string name)
    {
        if (graph is null) throw new ArgumentNullException(name);
        if (graph.dtype != ScalarType.Bool || graph.dim() != 4)
            throw new ArgumentException($"{name} has shape {Guard.Shape(graph)} and dtype {graph.dtype}; expected a Bool graph (B, H, Lq, Lk).", name);
    }
}
