using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>How Combiner partitions each query's support into a direct part and summarised regions.</summary>
public enum CombinerPartition
{
    /// <summary>Blocks of s: the own block directly, every other (causal: earlier) block through one summary. O(L·(s + L/s)).</summary>
    Fixed,
    /// <summary>Own block of s directly; the rest as dyadic regions (siblings on a binary tree over blocks). O(L·(s + log(L/s))).</summary>
    Logsparse,
    /// <summary>Rows of s (row-major 2-D layout): own row directly, every other row through a column-specific summary. O(L·(s + L/s)).</summary>
    Axial,
    /// <summary>Own row and own column directly; every other row split at the query's column into a left and a right region. O(L·(s + 3L/s)).</summary>
    Mixture,
}

/// <param name="Partition">the partition</param>
/// <param name="BlockSize">s: the Fixed block length, the Axial/Mixture row length and the Logsparse finest span</param>
/// <param name="Causal">query i may only use keys j ≤ i</param>
public sealed record CombinerOptions(CombinerPartition Partition, int BlockSize, bool Causal = true);

/// <summary>
/// Combiner attention (Ren et al., 2021, eq. 7): every query keeps full support at sub-quadratic cost. Its support is
/// split into a direct part Ω⁰ᵢ, attended exactly, and regions Ωʳᵢ attended through a summary:
/// p(j | i) = p(Ωʳ | i) · q(j | Ωʳ). One softmax runs jointly over [direct logits ‖ region logits]; a region's logit is
/// qᵢ·k_Ω/√d with a summary key k_Ω, and its value is Σ_{j∈Ω} q(j | Ω) vⱼ with within-region weights that do not depend
/// on the query i — the factorisation that makes the cost sub-quadratic.
/// <para>
/// Summaries, as in the authors' reference code: Fixed, Logsparse and Mixture max-pool the region's keys (k_Ω) and
/// queries (q_Ω) and weight q(j | Ω) = softmax_j(q_Ω·kⱼ/√d); Axial summarises row a′ for a query in column b by the row
/// attention of position (a′, b): q(j | Ω) = softmax_j(q_(a′,b)·kⱼ/√d) over the row, k_Ω = Σ q(j | Ω) kⱼ.
/// </para>
/// <para>
/// Lengths: causal attention pads L up to what the partition needs (a multiple of s; for Logsparse s·2^T) and drops the
/// padding from the output — padding sits after every real position, so no real query can see it. Bidirectional attention
/// needs L divisible by s (and L/s a power of two for Logsparse) and says so otherwise. Tested against
/// <see cref="CombinerReference"/>, a per-query loop written from eq. 7.
/// </para>
/// </summary>
public static class Combiner
{
    /// <summary>q, k (B, H, L, d), v (B, H, L, dᵥ) → (B, H, L, dᵥ); float32 or float64.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, CombinerOptions options)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        var (_, _, lq, lk) = ScaledDotProductAttention.Check(q, k, v);
        if (lq != lk) throw new ArgumentException($"q has {lq} positions and k has {lk}; Combiner is self-attention: expected equal lengths.", nameof(k));
        int s = options.BlockSize;
        long padded = PaddedLength(lq, options);
        using var scope = NewDisposeScope();
        if (padded != lq)
        {
            var pad = new long[] { 0, 0, 0, padded - lq };
            (q, k, v) = (nn.functional.pad(q, pad), nn.functional.pad(k, pad), nn.functional.pad(v, pad));
        }
        q = q / Math.Sqrt(q.shape[3]);                                          // every logit below is (q/√d)·k
        var output = options.Partition switch
        {
            CombinerPartition.Fixed => Fixed(q, k, v, s, options.Causal),
            CombinerPartition.Logsparse => Logsparse(q, k, v, s, options.Causal),
            CombinerPartition.Axial => Axial(q, k, v, s, options.Causal),
            CombinerPartition.Mixture => Mixture(q, k, v, s, options.Causal),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Partition, "unknown partition"),
        };
        if (padded != lq) output = output.narrow(2, 0, lq);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The length the partition computes on (L itself, or L padded for causal attention); throws on bad settings.</summary>
    public static long PaddedLength(long length, CombinerOptions options)
    {
        int s = options.BlockSize;
        if (s < 1) throw new ArgumentOutOfRangeException(nameof(options), s, $"options.BlockSize = {s}; expected ≥ 1.");
        long blocks = (length + s - 1) / s;
        if (options.Partition == CombinerPartition.Logsparse) blocks = 1L << (int)Math.Ceiling(Math.Log2(Math.Max(1, blocks)) - 1e-12);
        long padded = blocks * s;
        if (!options.Causal && padded != length)
            throw new ArgumentException(options.Partition == CombinerPartition.Logsparse
                ? $"L = {length} with options.BlockSize = {s}: bidirectional Logsparse needs L = s·2^T (L/s a power of two); pad the sequence or pick another block size."
                : $"L = {length} is not a multiple of options.BlockSize = {s}; bidirectional {options.Partition} needs s to divide L (causal attention pads itself).", nameof(options));
        return padded;
    }

    private static Tensor Fixed(Tensor q, Tensor k, Tensor v, int s, bool causal)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // (B, H, n, s, ·)
        var local = Local(qb, kb, causal);                                       // (B, H, n, s, s)
        var (summaryKey, summaryValue) = PooledSummaries(qb, kb, vb);            // (B, H, n, d), (B, H, n, dᵥ)
        var block = arange(l, ScalarType.Int64, q.device).div(s, rounding_mode: RoundingMode.floor).view(l, 1);
        var region = arange(n, ScalarType.Int64, q.device).view(1, n);
        var allowed = causal ? region.lt(block) : region.ne(block);              // (L, n)
        var global = q.matmul(summaryKey.transpose(-2, -1)).masked_fill(allowed.logical_not(), double.NegativeInfinity);
        var (pl, pg) = Joint(local.reshape(b, h, l, s), global);
        return pl.view(b, h, n, s, s).matmul(vb).view(b, h, l, -1) + pg.matmul(summaryValue);
    }

    private static Tensor Logsparse(Tensor q, Tensor k, Tensor v, int s, bool causal)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        int levels = (int)Math.Round(Math.Log2(n));
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));
        var local = Local(qb, kb, causal).reshape(b, h, l, s);
        if (levels == 0) return JointSoftmax(local).Single().view(b, h, n, s, s).matmul(vb).view(b, h, l, -1);

        var keys = new List<Tensor>(); var values = new List<Tensor>();
        var index = new long[l * levels]; var allowed = new bool[l * levels];
        long offset = 0;
        for (int level = 0; level < levels; level++)
        {
            long span = (long)s << level;
            var (sk, sv) = PooledSummaries(Blocks(q, span), Blocks(k, span), Blocks(v, span));   // one summary per tree node
            keys.Add(sk); values.Add(sv);
            for (long i = 0; i < l; i++)
            {
                long node = i / span, sibling = node ^ 1;
                index[i * levels + level] = offset + sibling;
                allowed[i * levels + level] = !causal || sibling < node;
            }
            offset += l / span;
        }
        var idx = tensor(index, ScalarType.Int64).to(q.device);
        var summaryKey = cat(keys, 2).index_select(2, idx).view(b, h, l, levels, -1);      // (B, H, L, T, d)
        var summaryValue = cat(values, 2).index_select(2, idx).view(b, h, l, levels, -1);  // (B, H, L, T, dᵥ)
        var mask = tensor(allowed).view(l, levels).to(q.device);
        var global = q.unsqueeze(-2).matmul(summaryKey.transpose(-2, -1)).squeeze(-2).masked_fill(mask.logical_not(), double.NegativeInfinity);
        var (pl, pg) = Joint(local, global);
        return pl.view(b, h, n, s, s).matmul(vb).view(b, h, l, -1) + pg.unsqueeze(-2).matmul(summaryValue).squeeze(-2);
    }

    private static Tensor Axial(Tensor q, Tensor k, Tensor v, int s, bool causal)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // rows: (B, H, n, s, ·)
        var rowScores = qb.matmul(kb.transpose(-2, -1));                         // (B, H, n, s, s)
        var local = causal ? rowScores.masked_fill(Upper(s, q.device), double.NegativeInfinity) : rowScores;
        var rowWeights = rowScores.softmax(-1);                                  // position (a′, b) over its whole row a′
        var summaryKey = rowWeights.matmul(kb).transpose(2, 3);                  // (B, H, s, n, d): column b, row a′
        var summaryValue = rowWeights.matmul(vb).transpose(2, 3);                // (B, H, s, n, dᵥ)
        var global = qb.transpose(2, 3).matmul(summaryKey.transpose(-2, -1))     // (B, H, s, n[a], n[a′])
                       .masked_fill(OtherRows(n, causal, q.device).logical_not(), double.NegativeInfinity);
        var (pl, pg) = Joint(local.reshape(b, h, l, s), global.transpose(2, 3).reshape(b, h, l, n));
        var fromRows = pg.view(b, h, n, s, n).transpose(2, 3).matmul(summaryValue).transpose(2, 3);   // (B, H, n, s, dᵥ)
        return (pl.view(b, h, n, s, s).matmul(vb) + fromRows).reshape(b, h, l, -1);
    }

    private static Tensor Mixture(Tensor q, Tensor k, Tensor v, int s, bool causal)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // rows: (B, H, n, s, ·)
        var (qc, kc, vc) = (qb.transpose(2, 3), kb.transpose(2, 3), vb.transpose(2, 3));   // columns: (B, H, s, n, ·)
        var row = Local(qb, kb, causal);                                         // (B, H, n, s, s)
        var otherRows = OtherRows(n, causal, q.device);                          // (n[a], n[a′])
        var column = qc.matmul(kc.transpose(-2, -1)).masked_fill(otherRows.logical_not(), double.NegativeInfinity);  // (B, H, s, n, n)

        var (leftKey, leftValue) = PrefixSummaries(qb, kb, vb, reverse: false);  // (B, H, n, s, ·): row a′, cut at column b
        var (rightKey, rightValue) = PrefixSummaries(qb, kb, vb, reverse: true);
        var column_ = arange(s, ScalarType.Int64, q.device).view(s, 1, 1);
        var left = qc.matmul(leftKey.transpose(2, 3).transpose(-2, -1))
                     .masked_fill(otherRows.logical_not().logical_or(column_.eq(0)), double.NegativeInfinity);       // (B, H, s, n, n)
        var right = qc.matmul(rightKey.transpose(2, 3).transpose(-2, -1))
                      .masked_fill(otherRows.logical_not().logical_or(column_.eq(s - 1)), double.NegativeInfinity);

        Tensor RowMajor(Tensor columnMajor) => columnMajor.transpose(2, 3).reshape(b, h, l, n);
        var parts = JointSoftmax(row.reshape(b, h, l, s), RowMajor(column), RowMajor(left), RowMajor(right));
        Tensor ColumnMajor(Tensor p) => p.view(b, h, n, s, n).transpose(2, 3);    // (B, H, s, n[a], n[a′])
        var fromColumns = ColumnMajor(parts[1]).matmul(vc)
                        + ColumnMajor(parts[2]).matmul(leftValue.transpose(2, 3))
                        + ColumnMajor(parts[3]).matmul(rightValue.transpose(2, 3));   // (B, H, s, n, dᵥ)
        return (parts[0].view(b, h, n, s, s).matmul(vb) + fromColumns.transpose(2, 3)).reshape(b, h, l, -1);
    }

    /// <summary>(B, H, L, e) → (B, H, L/size, size, e).</summary>
    private static Tensor Blocks(Tensor x, long size) => x.view(x.shape[0], x.shape[1], x.shape[2] / size, size, x.shape[3]);

    /// <summary>Scores within each block (B, H, n, s, s), causal ones masked above the diagonal.</summary>
    private static Tensor Local(Tensor qb, Tensor kb, bool causal)
    {
        var scores = qb.matmul(kb.transpose(-2, -1));
        return causal ? scores.masked_fill(Upper(qb.shape[3], qb.device), double.NegativeInfinity) : scores;
    }

    private static Tensor Upper(long s, Device device) => ones(s, s, ScalarType.Bool, device).triu(1);

    /// <summary>Which rows a′ a query in row a reaches through summaries: a′ &lt; a (causal) or a′ ≠ a.</summary>
    private static Tensor OtherRows(long n, bool causal, Device device)
    {
        var a = arange(n, ScalarType.Int64, device).view(n, 1);
        var other = arange(n, ScalarType.Int64, device).view(1, n);
        return causal ? other.lt(a) : other.ne(a);
    }

    /// <summary>Per block: k_Ω = max-pooled keys; value Σ softmax_j(q_Ω·kⱼ) vⱼ with q_Ω = max-pooled queries.</summary>
    private static (Tensor Key, Tensor Value) PooledSummaries(Tensor qb, Tensor kb, Tensor vb)
    {
        var pooledQuery = qb.amax(new long[] { 3 }, keepdim: true);             // (B, H, n, 1, d)
        var weights = pooledQuery.matmul(kb.transpose(-2, -1)).softmax(-1);    // (B, H, n, 1, s)
        return (kb.amax(new long[] { 3 }), weights.matmul(vb).squeeze(3));
    }

    /// <summary>
    /// For each row a′ and column b, the region of row a′ strictly left of b (or right, when <paramref name="reverse"/>):
    /// max-pooled key and query over it (exclusive cumulative max) and its softmax-weighted value. An empty region
    /// (b = 0 on the left, b = s − 1 on the right) gets a zero key and value; callers mask its logit.
    /// </summary>
    private static (Tensor Key, Tensor Value) PrefixSummaries(Tensor qb, Tensor kb, Tensor vb, bool reverse)
    {
        if (reverse) (qb, kb, vb) = (qb.flip(3), kb.flip(3), vb.flip(3));
        long s = qb.shape[3];
        Tensor Exclusive(Tensor x) => nn.functional.pad(x.cummax(3).values.narrow(3, 0, s - 1), new long[] { 0, 0, 1, 0 });  // row 0 ← zeros
        var (pooledQuery, pooledKey) = (Exclusive(qb), Exclusive(kb));                   // (B, H, n, s, d)
        var before = ones(s, s, ScalarType.Bool, qb.device).tril(-1);                    // key b′ < b
        var scores = pooledQuery.matmul(kb.transpose(-2, -1)).masked_fill(before.logical_not(), double.NegativeInfinity);
        var value = Normalizers.Softmax(scores).matmul(vb);                               // b = 0: zeros
        return reverse ? (pooledKey.flip(3), value.flip(3)) : (pooledKey, value);
    }

    private static (Tensor Direct, Tensor Regions) Joint(Tensor direct, Tensor regions)
    {
        var parts = JointSoftmax(direct, regions);
        return (parts[0], parts[1]);
    }

    /// <summary>One softmax over the concatenated last axes of the parts; returns the parts' probabilities.</summary>
    private static Tensor[] JointSoftmax(params Tensor[] parts)
    {
        var joint = cat(parts, -1).softmax(-1);
        return joint.split(parts.Select(p => p.shape[^1]).ToArray(), -1);
    }
}
