using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// A graph Ĝ in padded row layout: for each query the indices of its m candidate keys (m = the largest row of Ĝ),
/// with <see cref="Present"/> false on padding. This is what routed attention computes on: O(L·m), not O(L²).
/// </summary>
/// <param name="Indices">long (B, H, Lq, m): candidate key positions (padding repeats a real or zero index)</param>
/// <param name="Present">bool (B, H, Lq, m): true for a real candidate</param>
/// <param name="KeyLength">Lk of the graph</param>
public sealed record RoutedLayout(Tensor Indices, Tensor Present, long KeyLength)
{
    /// <summary>m: candidates per query after padding.</summary>
    public long Width => Indices.shape[3];

    /// <summary>From a dense bool graph (B, H, Lq, Lk); m ≥ 1 even when Ĝ is empty.</summary>
    public static RoutedLayout FromGraph(Tensor graph)
    {
        GraphCounts.CheckGraph(graph, nameof(graph));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long width = Math.Max(1, graph.sum(-1).max().item<long>());
        var indices = graph.to(ScalarType.Byte).topk((int)width, dim: -1, largest: true, sorted: true).indexes;   // real candidates first
        var present = graph.gather(-1, indices);
        return new RoutedLayout(indices.MoveToOuterDisposeScope(), present.MoveToOuterDisposeScope(), graph.shape[3]);
    }

    /// <summary>Back to a dense bool graph (B, H, Lq, Lk). Padding may repeat any index (a count, not an overwrite).</summary>
    public Tensor ToGraph()
    {
        var shape = Indices.shape;
        using var scope = NewDisposeScope();
        var counts = zeros(new[] { shape[0], shape[1], shape[2], KeyLength }, ScalarType.Int32, Indices.device)
            .scatter_add_(-1, Indices, Present.to(ScalarType.Int32));
        return counts.gt(Scalars.Zero).MoveToOuterDisposeScope();
    }
}

/// <summary>How routed attention obtains the candidates' scores and applies their weights to the values.</summary>
public enum RoutedStrategy
{
    /// <summary>Gather when the graph is very sparse (m ≤ L/32), otherwise <see cref="ScoreRows"/>.</summary>
    Auto,
    /// <summary>Gather each query's m keys and values (O(L·m·d) memory traffic, no L-long rows at all).</summary>
    Gather,
    /// <summary>
    /// Score a chunk of queries against all keys with one matmul (BLAS speed), keep only the m candidates' scores, and
    /// apply the weights by scattering them into the chunk's rows and one matmul with V. Entmax still runs on the m
    /// candidates only; the L-long rows exist for one chunk at a time (O(c·L) memory), never as an L × L matrix.
    /// </summary>
    ScoreRows,
}

/// <summary>
/// Routed 1.5-entmax attention: entmax over each query's predicted keys only, on a padded (B, H, L, m) layout of their
/// scores (chunked over queries to bound memory), never on the full L × L matrix. When Ĝ contains
/// a query's whole gold support the result equals dense entmax attention exactly (entmax is zero outside its support
/// and its threshold depends only on the support); otherwise it is a valid distribution over Ĝ. A query with no
/// predicted key outputs zeros (as a fully masked query does). Autograd flows through gather and entmax.
/// </summary>
public static class RoutedEntmax
{
    /// <summary>Elements (queries × m × head dim) gathered at once; bounds the working memory of one chunk.</summary>
    public const long ChunkElements = 1L << 23;

    /// <summary>q (B, H, Lq, d), k (B, H, Lk, d), v (B, H, Lk, dᵥ) over <paramref name="layout"/> → (B, H, Lq, dᵥ).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, RoutedLayout layout, RoutedStrategy strategy = RoutedStrategy.Auto)
        => Run(q, k, v, layout, probabilities: false, strategy).Output;

    /// <summary>As <see cref="Attend"/>, also returning the probabilities scattered back to (B, H, Lq, Lk) for analysis.</summary>
    public static (Tensor Output, Tensor Probabilities) AttendWithProbabilities(Tensor q, Tensor k, Tensor v, RoutedLayout layout, RoutedStrategy strategy = RoutedStrategy.Auto)
    {
        var (output, p) = Run(q, k, v, layout, probabilities: true, strategy);
        return (output, p!);
    }

    private static (Tensor Output, Tensor? Probabilities) Run(Tensor q, Tensor k, Tensor v, RoutedLayout layout, bool probabilities, RoutedStrategy strategy)
    {
        var (batch, heads, lq, lk) = ScaledDotProductAttention.Check(q, k, v);
        if (layout is null) throw new ArgumentNullException(nameof(layout));
        long[] expected = [batch, heads, lq];
        if (layout.Indices.dim() != 4 || !layout.Indices.shape[..3].SequenceEqual(expected) || layout.KeyLength != lk)
            throw new ArgumentException($"layout.Indices has shape {Guard.Shape(layout.Indices)} over {layout.KeyLength} keys; expected ({batch}, {heads}, {lq}, m) over {lk} keys.", nameof(layout));
        using var scope = NewDisposeScope();
        long m = layout.Width, d = q.shape[3], dv = v.shape[3];
        bool gather = strategy == RoutedStrategy.Gather || (strategy == RoutedStrategy.Auto && m * 32 <= lk);
        long chunk = Math.Max(1, ChunkElements / (batch * heads * (gather ? m * Math.Max(d, dv) : lk)));
        var indices = layout.Indices.to(q.device);
        var present = layout.Present.to(q.device);
        var scaled = q.div(Scalars.Of(Math.Sqrt(d)));
        var outputs = new List<Tensor>();
        var weights = new List<Tensor>();
        for (long start = 0; start < lq; start += chunk)
        {
            long end = Math.Min(lq, start + chunk);
            var idx = indices.narrow(2, start, end - start);                                 // (B, H, c, m)
            var queries = scaled.narrow(2, start, end - start);                              // (B, H, c, d)
            var scores = gather
                ? queries.unsqueeze(-2).matmul(Gather(k, idx).transpose(-2, -1)).squeeze(-2)  // (B, H, c, m) from (B, H, c, m, d) keys
                : queries.matmul(k.transpose(-2, -1)).gather(-1, idx);                        // (B, H, c, Lk) rows → their m candidates
            scores = scores.masked_fill(present.narrow(2, start, end - start).logical_not(), Scalars.NegativeInfinity);
            var p = Normalizers.Entmax15(scores);                                            // zeros for a query with no candidate
            outputs.Add(gather
                ? p.unsqueeze(-2).matmul(Gather(v, idx)).squeeze(-2)                         // (B, H, c, dᵥ)
                : zeros(new[] { batch, heads, end - start, lk }, p.dtype, p.device).scatter_add(-1, idx, p).matmul(v));
            if (probabilities) weights.Add(p);
        }
        var output = cat(outputs, 2).MoveToOuterDisposeScope();
        if (!probabilities) return (output, null);
        var dense = zeros(new[] { batch, heads, lq, lk }, q.dtype, q.device).scatter_add(-1, indices, cat(weights, 2));
        return (output, dense.MoveToOuterDisposeScope());
    }

    /// <summary>x (B, H, Lk, e) gathered at idx (B, H, c, m) → (B, H, c, m, e).</summary>
    internal static Tensor Gather(Tensor x, Tensor idx)
    {
        long b = idx.shape[0], h = idx.shape[1], c = idx.shape[2], m = idx.shape[3], e = x.shape[3];
        return x.gather(2, idx.reshape(b, h, c * m, 1).expand(b, h, c * m, e)).view(b, h, c, m, e);
    }
}
