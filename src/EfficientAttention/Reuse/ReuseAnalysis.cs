using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>Cost of one attention sub-layer (projections + attention), in FLOPs and bytes of attention maps.</summary>
public sealed record AttentionCost(double Flops, double MapBytes)
{
    public double SavingAgainst(AttentionCost baseline) => 1 - Flops / baseline.Flops;
}

/// <summary>How similar attention maps are across heads and layers (Bhojanapalli et al., 2021, §3), and what reuse saves.</summary>
public static class ReuseAnalysis
{
    /// <summary>
    /// Similarity of every head pair of two layers' maps: S[h, h′] = mean over examples and queries of
    /// 1 − ½‖P[b, h, i, ·] − P′[b, h′, i, ·]‖₁ (one minus the total-variation distance; 1 = identical rows, 0 = disjoint
    /// supports). Queries whose row is all zero in both (fully masked) are skipped. P (B, H, L, L), P′ (B, H′, L, L) → (H, H′).
    /// </summary>
    public static Tensor HeadSimilarity(Tensor p, Tensor pPrime)
    {
        Guard.FloatingTensor(p, nameof(p)); Guard.FloatingTensor(pPrime, nameof(pPrime));
        Guard.Rank(p, 4, nameof(p), "(batch, heads, queries, keys)"); Guard.Rank(pPrime, 4, nameof(pPrime), "(batch, heads, queries, keys)");
        if (p.shape[0] != pPrime.shape[0] || p.shape[2] != pPrime.shape[2] || p.shape[3] != pPrime.shape[3])
            throw new ArgumentException($"pPrime has shape {Guard.Shape(pPrime)} but p has {Guard.Shape(p)}; expected the same batch, queries and keys.", nameof(pPrime));
        using var scope = NewDisposeScope();
        var a = p.unsqueeze(2);                                                       // (B, H, 1, L, L)
        var b = pPrime.unsqueeze(1);                                                  // (B, 1, H′, L, L)
        var tv = (a - b).abs().sum(-1).div(Scalars.Of(2));                                          // (B, H, H′, L): TV distance per query
        var live = a.sum(-1).add(b.sum(-1), Scalars.One).gt(Scalars.Zero).to(tv.dtype);                      // skip fully masked queries
        var similarity = (tv.neg().add_(Scalars.One, Scalars.One) * live).sum(new long[] { 0, 3 }) / live.sum(new long[] { 0, 3 }).clamp_min(Scalars.One);
        return similarity.MoveToOuterDisposeScope();                                  // (H, H′)
    }

    /// <summary>For each head of the first layer, its best match in the second: max over h′ of S[h, h′]. → (H)</summary>
    public static Tensor BestMatch(Tensor p, Tensor pPrime) { using var s = HeadSimilarity(p, pPrime); return s.amax(new long[] { 1 }); }

    /// <summary>Layer × layer mean best-match similarity of a model's per-layer maps (Λ × Λ, as doubles).</summary>
    public static double[][] LayerSimilarity(IReadOnlyList<Tensor> layers) =>
        layers.Select(a => layers.Select(b => { using var m = BestMatch(a, b); return m.mean().to(ScalarType.Float64).item<double>(); }).ToArray()).ToArray();

    /// <summary>
    /// <see cref="LayerSimilarity(IReadOnlyList{Tensor})"/> of <paramref name="model"/>'s maps on <paramref name="inputs"/>
    /// (eval mode, no gradients).
    /// </summary>
    public static double[][] LayerSimilarity(TransformerModel model, Tensor inputs)
    {
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (_, maps) = model.Forward(inputs, withProbabilities: true);
        return LayerSimilarity(maps!.unbind(0));
    }

    /// <summary>Mean similarity of adjacent layers, S[ℓ, ℓ+1] (and S[ℓ+1, ℓ]), of a layer × layer similarity matrix.</summary>
    public static double Adjacent(double[][] similarity) => OffDiagonal(similarity, distance => distance == 1);

    /// <summary>Mean similarity of layers two or more apart (NaN for fewer than three layers).</summary>
    public static double NonAdjacent(double[][] similarity) => OffDiagonal(similarity, distance => distance >= 2);

    private static double OffDiagonal(double[][] s, Func<int, bool> keep)
    {
        var values = Enumerable.Range(0, s.Length).SelectMany(i => Enumerable.Range(0, s.Length).Where(j => keep(Math.Abs(i - j))).Select(j => s[i][j])).ToList();
        return values.Count == 0 ? double.NaN : values.Average();
    }

    /// <summary>
    /// FLOPs of a whole block stack on N tokens: every layer's attention sub-layer (<see cref="Cost"/> with that layer's
    /// K) plus its MLP (2·2·N·D·M). Embeddings and read-out are left out (the same for the models compared).
    /// </summary>
    public static double StackFlops(TransformerConfig config, long n) =>
        Enumerable.Range(0, config.Layers).Sum(l =>
            Cost(n, config.ModelDim, config.Heads, config.ReusedHeadsAt?.Invoke(l) ?? 0).Flops + 2.0 * 2 * n * config.ModelDim * config.MlpDim);

    /// <summary>
    /// FLOPs (multiply–add = 2) of one attention sub-layer on N tokens of width D with H heads of which K reuse:
    /// Q and K projections for H − K heads (2·2·N·D·(H−K)·D/H), V and output projections (2·2·N·D²), scores Q·Kᵀ for
    /// H − K heads (2·N²·D/H each), softmax (≈ 5 N² per new head: max, subtract, exp, sum, divide) and P·V for all H
    /// heads (2·N²·D/H each). Map memory: N² values per new head (reused maps are not stored again).
    /// </summary>
    public static AttentionCost Cost(long n, long d, int heads, int reused, int bytesPerValue = 4)
    {
        double dh = (double)d / heads, fresh = heads - reused;
        double projections = 2.0 * 2 * n * d * fresh * dh + 2.0 * 2 * n * d * d;
        double attention = fresh * (2.0 * n * n * dh + 5.0 * n * n) + heads * 2.0 * n * n * dh;
        return new AttentionCost(projections + attention, fresh * (double)n * n * bytesPerValue);
    }
}
