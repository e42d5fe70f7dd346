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
public sealed record CombinerOptions(CombinerPartition Partition, int BlockSize, bool Causal = true)
{
    /// <summary>
    /// The block size that gives each partition its asymptotic cost at length L. Fixed, Axial and Mixture (direct part
    /// s, L/s regions: O(L√L)) take s ∝ √L at every L: causal, the multiple of 8 nearest √L (L = 1 024, 2 048, 4 096,
    /// 8 192 give 32, 48, 64, 88; L pads up to a multiple of s); bidirectional, the divisor of L nearest √L (no padding
    /// there). Logsparse, whose log₂(L/s) regions make it O(L log L), takes a constant s = 32 (capped at L). The benchmark
    /// suite and notebooks 04–05 use this rule.
    /// </summary>
    public static CombinerOptions ForLength(CombinerPartition partition, int length, bool causal = true)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"length = {length}; expected ≥ 1.");
        if (partition == CombinerPartition.Logsparse) return new(partition, Math.Min(32, length), causal);
        double root = Math.Sqrt(length);
        int s = causal
            ? (root >= 8 ? 8 * (int)Math.Round(root / 8, MidpointRounding.AwayFromZero) : Math.Max(1, (int)Math.Round(root)))
            : Enumerable.Range(1, length).Where(d => length % d == 0).MinBy(d => Math.Abs(d - root))!;
        return new(partition, s, causal);
    }
}

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
/// <para>
/// Key padding (a classifier's padded batch): padded keys leave every part of the partition — direct logits, region
/// summaries (pooled over the region's real positions only), within-region weights — and a region with no real key
/// leaves the softmax. Axial's summary of row a′ for column b is anchored at (a′, b)'s query when that position is real
/// and at the row's max-pooled real queries otherwise, so nothing a padded position holds reaches a real output. A query
/// with no real key at all gets zeros.
/// </para>
/// </summary>
public static class Combiner
{
    /// <summary>
    /// q, k (B, H, L, d), v (B, H, L, dᵥ) → (B, H, L, dᵥ); float32 or float64. <paramref name="keyPadding"/>: bool (B, L),
    /// true for a real position, false for padding (null: none).
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, CombinerOptions options, Tensor? keyPadding = null)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        var (batch, _, lq, lk) = ScaledDotProductAttention.Check(q, k, v);
        if (lq != lk) throw new ArgumentException($"q has {lq} positions and k has {lk}; Combiner is self-attention: expected equal lengths.", nameof(k));
        if (keyPadding is not null && (keyPadding.dtype != ScalarType.Bool || keyPadding.dim() != 2 || keyPadding.shape[0] != batch || keyPadding.shape[1] != lk))
            throw new ArgumentException($"keyPadding has shape {Guard.Shape(keyPadding)} and dtype {keyPadding.dtype}; expected Bool ({batch}, {lk}) = (B, L).", nameof(keyPadding));
        int s = options.BlockSize;
        long padded = PaddedLength(lq, options);
        using var scope = NewDisposeScope();
        var real = keyPadding?.to(q.device);
        if (padded != lq)
        {
            var pad = new long[] { 0, 0, 0, padded - lq };
            (q, k, v) = (nn.functional.pad(q, pad), nn.functional.pad(k, pad), nn.functional.pad(v, pad));
            if (real is not null) real = nn.functional.pad(real, new long[] { 0, padded - lq }, value: 0);   // the tail is not real
        }
        q = q.div(Scalars.Of(Math.Sqrt(q.shape[3])));                                          // every logit below is (q/√d)·k
        var output = options.Partition switch
        {
            CombinerPartition.Fixed => Fixed(q, k, v, s, options.Causal, real),
            CombinerPartition.Logsparse => Logsparse(q, k, v, s, options.Causal, real),
            CombinerPartition.Axial => Axial(q, k, v, s, options.Causal, real),
            CombinerPartition.Mixture => Mixture(q, k, v, s, options.Causal, real),
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

    private static Tensor Fixed(Tensor q, Tensor k, Tensor v, int s, bool causal, Tensor? real)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // (B, H, n, s, ·)
        var realBlocks = real?.view(b, 1, n, s);
        var local = Local(qb, kb, causal, realBlocks);                            // (B, H, n, s, s)
        var (summaryKey, summaryValue, nonEmpty) = PooledSummaries(qb, kb, vb, realBlocks);   // (B, H, n, d), (B, H, n, dᵥ), (B, 1, n)
        var block = Scalars.Arange(l, q.device).div(Scalars.Of(s), rounding_mode: RoundingMode.floor).view(l, 1);
        var region = Scalars.Arange(n, q.device).view(1, n);
        var allowed = causal ? region.lt(block) : region.ne(block);              // (L, n)
        if (nonEmpty is not null) allowed = allowed.logical_and(nonEmpty.unsqueeze(2));   // (B, 1, L, n)
        var global = q.matmul(summaryKey.transpose(-2, -1)).masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var (pl, pg) = Joint(real is not null, local.reshape(b, h, l, s), global);
        return pl.view(b, h, n, s, s).matmul(vb).view(b, h, l, -1).add(pg.matmul(summaryValue), Scalars.One);
    }

    /// <summary>
    /// Logsparse, laid out per block: the T = log₂(L/s) regions of a query — at level ℓ the sibling of its ancestor node
    /// of span s·2^ℓ — depend only on its block, so the s queries of a block share one (T, d) table of summary keys and
    /// values. Logits are one batched (s × d)·(d × T) product per block; the tables cost n·T·d, not L·T·d.
    /// </summary>
    private static Tensor Logsparse(Tensor q, Tensor k, Tensor v, int s, bool causal, Tensor? real)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        int levels = (int)Math.Round(Math.Log2(n));
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));
        var local = Local(qb, kb, causal, real?.view(b, 1, n, s));              // (B, H, n, s, s)
        if (levels == 0)
            return JointSoftmax(real is not null, local).Single().matmul(vb).view(b, h, l, -1);

        var keys = new List<Tensor>(); var values = new List<Tensor>(); var nonEmpty = new List<Tensor>();
        var (index, allowed) = LogsparseRegions(n, levels, causal);
        for (int level = 0; level < levels; level++)
        {
            long span = (long)s << level;
            var (sk, sv, ne) = PooledSummaries(Blocks(q, span), Blocks(k, span), Blocks(v, span), real?.view(b, 1, l / span, span));
            keys.Add(sk); values.Add(sv);                                        // one summary per tree node
            if (ne is not null) nonEmpty.Add(ne);
        }
        var idx = tensor(index, ScalarType.Int64).to(q.device);
        var summaryKey = cat(keys, 2).index_select(2, idx).view(b, h, n, levels, -1);      // (B, H, n, T, d)
        var summaryValue = cat(values, 2).index_select(2, idx).view(b, h, n, levels, -1);  // (B, H, n, T, dᵥ)
        var mask = tensor(allowed).view(n, 1, levels).to(q.device);                         // (n, 1, T)
        if (real is not null) mask = mask.logical_and(cat(nonEmpty, 2).index_select(2, idx).view(b, 1, n, 1, levels));
        var global = qb.matmul(summaryKey.transpose(-2, -1)).masked_fill(mask.logical_not(), Scalars.NegativeInfinity);   // (B, H, n, s, T)
        var (pl, pg) = Joint(real is not null, local, global);
        return pl.matmul(vb).add(pg.matmul(summaryValue), Scalars.One).view(b, h, l, -1);
    }

    /// <summary>For block β and level ℓ: the index of its region's summary among the concatenated levels, and whether it is allowed.</summary>
    private static (long[] Index, bool[] Allowed) LogsparseRegions(long blocks, int levels, bool causal)
    {
        var index = new long[blocks * levels]; var allowed = new bool[blocks * levels];
        long offset = 0;
        for (int level = 0; level < levels; level++)
        {
            for (long block = 0; block < blocks; block++)
            {
                long node = block >> level, sibling = node ^ 1;
                index[block * levels + level] = offset + sibling;
                allowed[block * levels + level] = !causal || sibling < node;
            }
            offset += blocks >> level;
        }
        return (index, allowed);
    }

    private static Tensor Axial(Tensor q, Tensor k, Tensor v, int s, bool causal, Tensor? real)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // rows: (B, H, n, s, ·)
        var rowScores = qb.matmul(kb.transpose(-2, -1));                         // (B, H, n, s, s)
        var local = causal ? rowScores.masked_fill(Upper(s, q.device), Scalars.NegativeInfinity) : rowScores;
        Tensor rowWeights;                                                       // position (a′, b) over its whole row a′
        Tensor? nonEmpty = null;
        if (real is null) rowWeights = rowScores.softmax(-1);
        else
        {
            var realRows = real.view(b, 1, n, s);
            var keyMask = realRows.unsqueeze(3).logical_not();                   // (B, 1, n, 1, s): padded keys
            local = local.masked_fill(keyMask, Scalars.NegativeInfinity);
            var (pooledQuery, _) = MaskedMax(qb, realRows);                      // (B, H, n, 1, d)
            var anchor = where(realRows.unsqueeze(-1), qb, pooledQuery);         // a padded anchor falls back to the pooled query
            rowWeights = SafeSoftmax(anchor.matmul(kb.transpose(-2, -1)).masked_fill(keyMask, Scalars.NegativeInfinity));
            nonEmpty = realRows.any(-1);                                         // (B, 1, n)
        }
        var summaryKey = rowWeights.matmul(kb).transpose(2, 3);                  // (B, H, s, n, d): column b, row a′
        var summaryValue = rowWeights.matmul(vb).transpose(2, 3);                // (B, H, s, n, dᵥ)
        var reach = OtherRows(n, causal, q.device);                              // (n[a], n[a′])
        if (nonEmpty is not null) reach = reach.logical_and(nonEmpty.view(b, 1, 1, 1, n));
        var global = qb.transpose(2, 3).matmul(summaryKey.transpose(-2, -1))     // (B, H, s, n[a], n[a′])
                       .masked_fill(reach.logical_not(), Scalars.NegativeInfinity);
        var (pl, pg) = Joint(real is not null, local.reshape(b, h, l, s), global.transpose(2, 3).reshape(b, h, l, n));
        var fromRows = pg.view(b, h, n, s, n).transpose(2, 3).matmul(summaryValue).transpose(2, 3);   // (B, H, n, s, dᵥ)
        return pl.view(b, h, n, s, s).matmul(vb).add(fromRows, Scalars.One).reshape(b, h, l, -1);
    }

    private static Tensor Mixture(Tensor q, Tensor k, Tensor v, int s, bool causal, Tensor? real)
    {
        var (b, h, l) = (q.shape[0], q.shape[1], q.shape[2]);
        long n = l / s;
        var (qb, kb, vb) = (Blocks(q, s), Blocks(k, s), Blocks(v, s));             // rows: (B, H, n, s, ·)
        var (qc, kc, vc) = (qb.transpose(2, 3), kb.transpose(2, 3), vb.transpose(2, 3));   // columns: (B, H, s, n, ·)
        var realRows = real?.view(b, 1, n, s);
        var row = Local(qb, kb, causal, realRows);                               // (B, H, n, s, s)
        var otherRows = OtherRows(n, causal, q.device);                          // (n[a], n[a′])
        Tensor ByColumn(Tensor rows) => rows.transpose(2, 3).unsqueeze(3);       // (B, 1, n[a′], s[b]) → (B, 1, s[b], 1, n[a′])
        var columnAllowed = realRows is null ? otherRows : otherRows.logical_and(ByColumn(realRows));
        var column = qc.matmul(kc.transpose(-2, -1)).masked_fill(columnAllowed.logical_not(), Scalars.NegativeInfinity);  // (B, H, s, n, n)

        var (leftKey, leftValue, leftNonEmpty) = PrefixSummaries(qb, kb, vb, realRows, reverse: false);  // (B, H, n, s, ·): row a′, cut at column b
        var (rightKey, rightValue, rightNonEmpty) = PrefixSummaries(qb, kb, vb, realRows, reverse: true);
        var column_ = Scalars.Arange(s, q.device).view(s, 1, 1);
        var leftAllowed = otherRows.logical_and(column_.ne(Scalars.Zero));
        var rightAllowed = otherRows.logical_and(column_.ne(Scalars.Of(s - 1)));
        if (leftNonEmpty is not null) (leftAllowed, rightAllowed) = (leftAllowed.logical_and(ByColumn(leftNonEmpty)), rightAllowed.logical_and(ByColumn(rightNonEmpty!)));
        var left = qc.matmul(leftKey.transpose(2, 3).transpose(-2, -1)).masked_fill(leftAllowed.logical_not(), Scalars.NegativeInfinity);    // (B, H, s, n, n)
        var right = qc.matmul(rightKey.transpose(2, 3).transpose(-2, -1)).masked_fill(rightAllowed.logical_not(), Scalars.NegativeInfinity);

        Tensor RowMajor(Tensor columnMajor) => columnMajor.transpose(2, 3).reshape(b, h, l, n);
        var parts = JointSoftmax(real is not null, row.reshape(b, h, l, s), RowMajor(column), RowMajor(left), RowMajor(right));
        Tensor ColumnMajor(Tensor p) => p.view(b, h, n, s, n).transpose(2, 3);    // (B, H, s, n[a], n[a′])
        var fromColumns = ColumnMajor(parts[1]).matmul(vc)
                        .add(ColumnMajor(parts[2]).matmul(leftValue.transpose(2, 3)), Scalars.One)
                        .add(ColumnMajor(parts[3]).matmul(rightValue.transpose(2, 3)), Scalars.One);   // (B, H, s, n, dᵥ)
        return parts[0].view(b, h, n, s, s).matmul(vb).add(fromColumns.transpose(2, 3), Scalars.One).reshape(b, h, l, -1);
    }

    /// <summary>(B, H, L, e) → (B, H, L/size, size, e).</summary>
    private static Tensor Blocks(Tensor x, long size) => x.view(x.shape[0], x.shape[1], x.shape[2] / size, size, x.shape[3]);

    /// <summary>Scores within each block (B, H, n, s, s), causal ones masked above the diagonal, padded keys (realBlocks (B, 1, n, s) false) masked.</summary>
    private static Tensor Local(Tensor qb, Tensor kb, bool causal, Tensor? realBlocks)
    {
        var scores = qb.matmul(kb.transpose(-2, -1));
        if (causal) scores = scores.masked_fill(Upper(qb.shape[3], qb.device), Scalars.NegativeInfinity);
        return realBlocks is null ? scores : scores.masked_fill(realBlocks.unsqueeze(3).logical_not(), Scalars.NegativeInfinity);
    }

    private static Tensor Upper(long s, Device device) => ones(s, s, ScalarType.Bool, device).triu(1);

    /// <summary>Which rows a′ a query in row a reaches through summaries: a′ &lt; a (causal) or a′ ≠ a.</summary>
    private static Tensor OtherRows(long n, bool causal, Device device)
    {
        var a = Scalars.Arange(n, device).view(n, 1);
        var other = Scalars.Arange(n, device).view(1, n);
        return causal ? other.lt(a) : other.ne(a);
    }

    /// <summary>Max over each block's real positions (B, H, n, 1, e), zeros for a block with none; and which blocks have one (B, 1, n).</summary>
    private static (Tensor Max, Tensor NonEmpty) MaskedMax(Tensor xb, Tensor realBlocks)
    {
        var nonEmpty = realBlocks.any(-1);
        var max = xb.masked_fill(realBlocks.unsqueeze(-1).logical_not(), Scalars.NegativeInfinity).amax(new long[] { 3 }, keepdim: true);
        return (max.masked_fill(nonEmpty.view(nonEmpty.shape[0], 1, nonEmpty.shape[2], 1, 1).logical_not(), Scalars.Zero), nonEmpty);
    }

    /// <summary>
    /// Per block: k_Ω = max-pooled keys; value Σ softmax_j(q_Ω·kⱼ) vⱼ with q_Ω = max-pooled queries — over the block's
    /// real positions when <paramref name="realBlocks"/> (B, 1, n, s) is given, with which blocks have any (else null).
    /// </summary>
    private static (Tensor Key, Tensor Value, Tensor? NonEmpty) PooledSummaries(Tensor qb, Tensor kb, Tensor vb, Tensor? realBlocks)
    {
        if (realBlocks is null)
        {
            var pooledQuery = qb.amax(new long[] { 3 }, keepdim: true);             // (B, H, n, 1, d)
            var weights = pooledQuery.matmul(kb.transpose(-2, -1)).softmax(-1);    // (B, H, n, 1, s)
            return (kb.amax(new long[] { 3 }), weights.matmul(vb).squeeze(3), null);
        }
        var (query, nonEmpty) = MaskedMax(qb, realBlocks);
        var (key, _) = MaskedMax(kb, realBlocks);
        var masked = query.matmul(kb.transpose(-2, -1)).masked_fill(realBlocks.unsqueeze(3).logical_not(), Scalars.NegativeInfinity);
        return (key.squeeze(3), SafeSoftmax(masked).matmul(vb).squeeze(3), nonEmpty);
    }

    /// <summary>
    /// For each row a′ and column b, the region of row a′ strictly left of b (or right, when <paramref name="reverse"/>):
    /// max-pooled key and query over its real positions (exclusive cumulative max) and its softmax-weighted value, with
    /// whether it has a real position (null without padding). An empty region (b = 0 on the left, b = s − 1 on the right,
    /// or all padded) gets a zero key and value; callers mask its logit.
    /// </summary>
    private static (Tensor Key, Tensor Value, Tensor? NonEmpty) PrefixSummaries(Tensor qb, Tensor kb, Tensor vb, Tensor? realRows, bool reverse)
    {
        if (reverse) (qb, kb, vb, realRows) = (qb.flip(3), kb.flip(3), vb.flip(3), realRows?.flip(3));
        long s = qb.shape[3];
        var before = ones(s, s, ScalarType.Bool, qb.device).tril(-1);                    // key b′ < b
        Tensor? nonEmpty = null;
        Tensor Exclusive(Tensor x, double empty) => nn.functional.pad(x.narrow(3, 0, s - 1), new long[] { 0, 0, 1, 0 }, value: empty);  // shift by one along b
        Tensor pooledQuery, pooledKey, allowed = before;
        if (realRows is null)
            (pooledQuery, pooledKey) = (Exclusive(qb.cummax(3).values, 0), Exclusive(kb.cummax(3).values, 0));   // (B, H, n, s, d)
        else
        {
            var isReal = realRows.unsqueeze(-1);                                         // (B, 1, n, s, 1)
            nonEmpty = Exclusive(realRows.to(ScalarType.Int32).cumsum(3).unsqueeze(-1), 0).squeeze(-1).gt(Scalars.Zero);   // (B, 1, n, s)
            var hollow = nonEmpty.unsqueeze(-1).logical_not();
            Tensor Pooled(Tensor x) => Exclusive(x.masked_fill(isReal.logical_not(), Scalars.NegativeInfinity).cummax(3).values, 0).masked_fill(hollow, Scalars.Zero);
            (pooledQuery, pooledKey) = (Pooled(qb), Pooled(kb));
            allowed = before.logical_and(realRows.unsqueeze(3));                          // (B, 1, n, s[b], s[b′])
        }
        var scores = pooledQuery.matmul(kb.transpose(-2, -1)).masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var value = SafeSoftmax(scores).matmul(vb);                                       // an empty region: zeros
        return reverse ? (pooledKey.flip(3), value.flip(3), nonEmpty?.flip(3)) : (pooledKey, value, nonEmpty);
    }

    private static (Tensor Direct, Tensor Regions) Joint(bool padded, Tensor direct, Tensor regions)
    {
        var parts = JointSoftmax(padded, direct, regions);
        return (parts[0], parts[1]);
    }

    /// <summary>
    /// One softmax over the concatenated last axes of the parts; returns the parts' probabilities. Without padding every
    /// query has a direct key (itself or its block), so libtorch's softmax is used as is; with padding a query may have
    /// none, and gets zeros.
    /// </summary>
    private static Tensor[] JointSoftmax(bool padded, params Tensor[] parts)
    {
        var logits = parts.Length == 1 ? parts[0] : cat(parts, -1);
        var joint = padded ? SafeSoftmax(logits) : logits.softmax(-1);
        return parts.Length == 1 ? [joint] : joint.split(parts.Select(p => p.shape[^1]).ToArray(), -1);
    }

    /// <summary>Softmax over the last axis with all −∞ rows giving zeros, without reading anything back to the host.</summary>
    private static Tensor SafeSoftmax(Tensor scores)
    {
        var dead = scores.amax(new long[] { -1 }, keepdim: true).eq(Scalars.NegativeInfinity);
        return scores.masked_fill(dead, Scalars.Zero).softmax(-1).masked_fill(dead, Scalars.Zero);
    }
}
