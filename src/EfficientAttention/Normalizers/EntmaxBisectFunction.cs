using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>α-entmax by bisection on τ as a custom autograd function; CPU float tensors along their last dimension take the fused C# kernel (<see cref="EntmaxCpu"/>).</summary>
internal sealed class EntmaxBisectFunction : SingleTensorFunction<EntmaxBisectFunction>
{
    public override string Name => "EntmaxBisect";

    /// <summary>
    /// With a = (α − 1) z shifted so max a = 0, f(τ) = Σ [a − τ]₊^{1/(α−1)} − 1 is decreasing, f(−1) ≥ 0 (the max alone
    /// contributes 1) and f(−(1/n)^{α−1}) ≤ 0 (each entry ≤ 1/n); halve that bracket <paramref name="iterations"/> times,
    /// then renormalise (Blondel et al., 2019; the entmax package's bisection).
    /// </summary>
    internal static Tensor Kernel(Tensor scores, long dim, double alpha, int iterations)
    {
        using var scope = NewDisposeScope();
        var (shifted, dead) = Masking.SeparateDeadSlices(scores, dim);
        var a = shifted.mul(Scalars.Of(alpha - 1));                                   // max 0 per slice
        double exponent = 1 / (alpha - 1);
        long n = a.shape[dim];
        var shape = a.shape.ToArray(); shape[dim] = 1;
        var tauLo = full(shape, Scalars.Of(-1.0), dtype: a.dtype, device: a.device);  // (…, 1, …): f(τ_lo) ≥ 0
        double width = 1 - Math.Pow(1.0 / n, alpha - 1);                 // τ_hi − τ_lo, the same for every slice
        Tensor? p = null;
        for (int i = 0; i < iterations; i++)
        {
            using var step = NewDisposeScope();
            width /= 2;
            var tauMid = tauLo.add(Scalars.Of(width), Scalars.One);
            var pMid = (a - tauMid).clamp_min(Scalars.Zero).pow(Scalars.Of(exponent));
            var massAbove = pMid.sum(new[] { dim }, keepdim: true).ge(Scalars.One); // f(τ_mid) ≥ 0: τ lies above τ_mid
            var next = where(massAbove, tauMid, tauLo);
            tauLo.Dispose();
            tauLo = next.MoveToOuterDisposeScope();
            p?.Dispose();
            p = pMid.MoveToOuterDisposeScope();
        }
        var total = p!.sum(new[] { dim }, keepdim: true);
        return Masking.ZeroDead(p / total.masked_fill(total.eq(Scalars.Zero), Scalars.One), dead).MoveToOuterDisposeScope();
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (scores, dim, alpha, iterations) = ((Tensor)vars[0], (long)vars[1], (double)vars[2], (int)vars[3]);
        var p = EntmaxCpu.Supports(scores, dim) ? EntmaxCpu.ForwardBisect(scores, alpha, iterations) : Kernel(scores, dim, alpha, iterations);
        ctx.save_for_backward([p]);
        ctx.save_data("dim", dim);
        ctx.save_data("alpha", alpha);
        return p;
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
    {
        var p = ctx.get_saved_variables()[0];
        var dim = (long)ctx.get_data("dim");
        var alpha = (double)ctx.get_data("alpha");
        if (EntmaxCpu.Supports(p, dim)) return [EntmaxCpu.Backward(p, grad, alpha), null!, null!, null!];
        using var scope = NewDisposeScope();
        var weights = where(p.gt(Scalars.Zero), p.pow(Scalars.Of(2 - alpha)), zeros_like(p));   // p^{2−α} on the support
        return [EntmaxBackward.JacobianVectorProduct(weights, grad, dim).MoveToOuterDisposeScope(), null!, null!, null!];
    }
}
