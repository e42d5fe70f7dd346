using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>Sparsemax as a custom autograd function: sort-based forward, support-projection backward.</summary>
internal sealed class SparsemaxFunction : SimplexMapFunction<SparsemaxFunction>
{
    public override string Name => "Sparsemax";

    /// <summary>
    /// Sort z descending; the support size is k* = max{k : 1 + k z₍ₖ₎ &gt; Σ_{j≤k} z₍ⱼ₎}; τ = (Σ_{j≤k*} z₍ⱼ₎ − 1) / k*.
    /// </summary>
    internal static Tensor Kernel(Tensor scores, long dim)
    {
        using var scope = NewDisposeScope();
        var (z, dead) = Masking.SeparateDeadSlices(scores, dim);        // z: max 0 per slice
        var sorted = z.sort(dim, descending: true).Values;               // z₍₁₎ ≥ z₍₂₎ ≥ …
        var cumsum = sorted.cumsum(dim);                                 // Σ_{j≤k} z₍ⱼ₎
        var k = Masking.Ranks(z.shape[dim], dim, z.dim(), z);            // 1, 2, …, n along dim
        var inSupport = (k * sorted).add_(Scalars.One, Scalars.One).gt(cumsum);                     // a prefix of the sorted order
        var supportSize = inSupport.sum(new[] { dim }, keepdim: true, type: ScalarType.Int64); // ≥ 1: the max is in it
        var tau = cumsum.gather(dim, supportSize.sub(Scalars.One)).sub_(Scalars.One) / supportSize.to(z.dtype);
        return Masking.ZeroDead((z - tau).clamp_min(Scalars.Zero), dead).MoveToOuterDisposeScope();
    }

    protected override Tensor Map(Tensor scores, long dim, bool fused) => Kernel(scores, dim);          // no fused kernel

    /// <summary>J = diag(s) − s sᵀ / |s| with s = 1[p &gt; 0], so Jg = s ⊙ (g − ⟨s, g⟩ / |s|).</summary>
    protected override Tensor JacobianVectorProduct(Tensor p, Tensor grad, long dim, bool fused)
    {
        using var scope = NewDisposeScope();
        var support = p.gt(Scalars.Zero).to(grad.dtype);                                          // s
        var size = support.sum(new[] { dim }, keepdim: true).clamp_min(Scalars.One);             // |s| (a dead slice has none)
        var mean = (grad * support).sum(new[] { dim }, keepdim: true) / size;          // ⟨s, g⟩ / |s|
        return (support * (grad - mean)).MoveToOuterDisposeScope();
    }
}
