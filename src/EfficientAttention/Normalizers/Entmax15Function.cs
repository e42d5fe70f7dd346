using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>1.5-entmax as a custom autograd function: exact sort-based forward, closed-form backward.</summary>
internal sealed class Entmax15Function : SimplexMapFunction<Entmax15Function>
{
    public override string Name => "Entmax15";

    /// <summary>Slices longer than this find τ from their top <see cref="PartialSortK"/> entries first (see <see cref="Kernel"/>).</summary>
    internal const long PartialSortFrom = 512;   // below this a full sort is as cheap as topk
    internal const int PartialSortK = 64;

    /// <summary>
    /// With a = z/2 sorted descending, for each k the threshold that makes the top k sum to one is
    /// τₖ = μₖ − √((1 − k·σ²ₖ)/k) (μₖ, σ²ₖ: mean and variance of a₍₁₎…a₍ₖ₎); the support size is the largest k with
    /// τₖ ≤ a₍ₖ₎, and p = [a − τ]₊² (Peters et al., 2019, Alg. 2).
    /// <para>
    /// Long slices avoid the full sort (the entmax package's partial-sort trick): τ is first computed from the top K = 64
    /// entries only (topk); where the support found is smaller than K it is the true support (the condition τₖ ≤ a₍ₖ₎
    /// holds exactly for k up to the support size), so τ is exact. Slices whose support reaches K are retried with 4K,
    /// 16K, … on those slices only, and sorted in full only when K reaches their length.
    /// </para>
    /// </summary>
    internal static Tensor Kernel(Tensor scores, long dim)
    {
        using var scope = NewDisposeScope();
        var (shifted, dead) = Masking.SeparateDeadSlices(scores, dim);
        var a = shifted.div_(Scalars.Of(2));                                          // (α − 1) z with α = 1.5 (shifted is our own copy)
        long n = a.shape[dim];
        var tau = n >= PartialSortFrom ? PartialThreshold(a, dim) : Threshold(a.sort(dim, descending: true).Values, dim).Tau;
        return Masking.ZeroDead((a - tau).clamp_min_(Scalars.Zero).pow_(Scalars.Of(2)), dead).MoveToOuterDisposeScope();   // one full-size allocation
    }

    /// <summary>τ (size 1 along dim) and the support size from the top entries of a, sorted descending along dim.</summary>
    private static (Tensor Tau, Tensor SupportSize) Threshold(Tensor sorted, long dim)
    {
        var k = Masking.Ranks(sorted.shape[dim], dim, sorted.dim(), sorted);   // 1, 2, …, n along dim
        var mean = sorted.cumsum(dim) / k;                               // μₖ
        var meanSq = sorted.mul(sorted).cumsum(dim) / k;                 // E[a²] over the top k
        var ss = k * (meanSq - mean.mul(mean));                          // k σ²ₖ  (NaN past the finite entries: -inf scores)
        var delta = (ss.neg().add_(Scalars.One, Scalars.One) / k).clamp_min(Scalars.Zero);   // (1 − kσ²ₖ)/k
        var tau = mean - delta.sqrt();                                   // τₖ
        var supportSize = tau.le(sorted).sum(new[] { dim }, keepdim: true, type: ScalarType.Int64); // NaN compares false
        return (tau.gather(dim, supportSize.sub(Scalars.One)), supportSize);
    }

    private static Tensor PartialThreshold(Tensor a, long dim)
    {
        long n = a.shape[dim];
        var rows = a.movedim(new[] { dim }, new[] { -1L }).reshape(-1, n);   // one slice per row
        var tau = empty(rows.shape[0], 1, dtype: a.dtype, device: a.device);
        var pending = Scalars.Arange(rows.shape[0], a.device);    // rows whose τ is not known yet
        for (long k = PartialSortK; pending.numel() > 0; k *= 4)
        {
            var part = rows.index_select(0, pending);
            if (k >= n)                                                     // last resort: the full sort
            {
                tau.index_copy_(0, pending, Threshold(part.sort(1, descending: true).Values, 1).Tau);
                break;
            }
            var (partTau, size) = Threshold(part.topk((int)k, dim: 1).values, 1);
            var resolved = size.squeeze(1).lt(Scalars.Of(k));                           // support ended inside the top k: exact
            tau.index_copy_(0, pending.masked_select(resolved), partTau.masked_select(resolved.unsqueeze(1)).unsqueeze(1));
            pending = pending.masked_select(resolved.logical_not());
        }
        var shape = a.movedim(new[] { dim }, new[] { -1L }).shape;
        shape[^1] = 1;
        return tau.view(shape).movedim(new[] { -1L }, new[] { dim });
    }

    /// <summary>CPU float tensors along their last dimension take the fused C# kernel (<see cref="EntmaxCpu"/>) unless told not to; the rest the tensor path.</summary>
    protected override Tensor Map(Tensor scores, long dim, bool fused) => fused && EntmaxCpu.Supports(scores, dim) ? EntmaxCpu.Forward15(scores) : Kernel(scores, dim);

    protected override Tensor JacobianVectorProduct(Tensor p, Tensor grad, long dim, bool fused)
    {
        if (fused && EntmaxCpu.Supports(p, dim)) return EntmaxCpu.Backward(p, grad, 1.5);
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
        var q = wg.sum(new[] { dim }, keepdim: true) / total.masked_fill(total.eq(Scalars.Zero), Scalars.One);
        return wg.sub_(weights * q).MoveToOuterDisposeScope();                           // in place: one fewer L² tensor
    }
}
