using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>1.5-entmax as a custom autograd function: exact sort-based forward, closed-form backward.</summary>
internal sealed class Entmax15Function : SimplexMapFunction<Entmax15Function>
{
    public override string Name => "Entmax15";

    /// <summary>
    /// With a = z/2 sorted descending, for each k the threshold that makes the top k sum to one is
    /// τₖ = μₖ − √((1 − k·σ²ₖ)/k) (μₖ, σ²ₖ: mean and variance of a₍₁₎…a₍ₖ₎); the support size is the largest k with
    /// τₖ ≤ a₍ₖ₎, and p = [a − τ]₊² (Peters et al., 2019, Alg. 2).
    /// </summary>
    internal static Tensor Kernel(Tensor scores, long dim)
    {
        using var scope = NewDisposeScope();
        var (shifted, dead) = Masking.SeparateDeadSlices(scores, dim);
        var a = shifted / 2;                                              // (α − 1) z with α = 1.5
        var sorted = a.sort(dim, descending: true).Values;
        var k = Masking.Ranks(a.shape[dim], dim, a.dim(), a);            // 1, 2, …, n along dim
        var mean = sorted.cumsum(dim) / k;                               // μₖ
        var meanSq = sorted.square().cumsum(dim) / k;                    // E[a²] over the top k
        var ss = k * (meanSq - mean.square());                           // k σ²ₖ  (NaN past the finite entries: -inf scores)
        var delta = ((1 - ss) / k).clamp_min(0);
        var tau = mean - delta.sqrt();                                   // τₖ
        var supportSize = tau.le(sorted).sum(new[] { dim }, keepdim: true, type: ScalarType.Int64); // NaN compares false
        var tauStar = tau.gather(dim, supportSize - 1);
        return Masking.ZeroDead((a - tauStar).clamp_min(0).square(), dead).MoveToOuterDisposeScope();
    }

    protected override Tensor Map(Tensor scores, long dim) => Kernel(scores, dim);

    protected override Tensor JacobianVectorProduct(Tensor p, Tensor grad, long dim)
    {
        using var scope = NewDisposeScope();
        return EntmaxBackward.JacobianVectorProduct(p.sqrt(), grad, dim).MoveToOuterDisposeScope();   // p^{2−α} = √p
    }
}

/// <summary>The α-entmax Jacobian–vector product shared by 1.5-entmax and bisection.</summary>
internal static class EntmaxBackward
{
    /// <summary>
    /// For p = α-entmax(z), with w = p^{2−α} on the support (0 elsewhere): J g = w ⊙ g − w · ⟨w, g⟩ / Σw
    /// (Peters et al., 2019, Prop. 1 / eq. 10).
    /// </summary>
    public static Tensor JacobianVectorProduct(Tensor weights, Tensor grad, long dim)
    {
        using var scope = NewDisposeScope();
        var wg = weights * grad;                                                        // w ⊙ g
        var total = weights.sum(new[] { dim }, keepdim: true);                          // Σw (0 on a dead slice)
        var q = wg.sum(new[] { dim }, keepdim: true) / total.masked_fill(total.eq(0), 1);
        return (wg - q * weights).MoveToOuterDisposeScope();
    }
}
