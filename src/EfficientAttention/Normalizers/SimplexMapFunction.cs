using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>
/// The autograd plumbing shared by sparse maps onto the simplex taking (scores, dim[, fused]): the forward saves the
/// output p, the backward is a Jacobian–vector product that needs only p (the derived class supplies both halves).
/// <c>fused</c> (default true) lets a map take its fused C# kernel where it has one; false keeps it on libtorch tensor
/// operations (the benchmark's comparison with the algorithm as PyTorch runs it).
/// </summary>
internal abstract class SimplexMapFunction<T> : SingleTensorFunction<T> where T : SimplexMapFunction<T>, new()
{
    /// <summary>The forward kernel: p = map(scores) along <paramref name="dim"/>.</summary>
    protected abstract Tensor Map(Tensor scores, long dim, bool fused);

    /// <summary>Jᵀg for the map's Jacobian at output <paramref name="p"/> (J is symmetric for these maps).</summary>
    protected abstract Tensor JacobianVectorProduct(Tensor p, Tensor grad, long dim, bool fused);

    public sealed override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (scores, dim, fused) = ((Tensor)vars[0], (long)vars[1], vars.Length < 3 || (bool)vars[2]);
        var p = Map(scores, dim, fused);
        ctx.save_for_backward([p]);
        ctx.save_data("dim", dim);
        ctx.save_data("fused", fused);
        ctx.save_data("inputs", vars.Length);
        return p;
    }

    public sealed override List<Tensor> backward(AutogradContext ctx, Tensor grad) =>
        [JacobianVectorProduct(ctx.get_saved_variables()[0], grad, (long)ctx.get_data("dim"), (bool)ctx.get_data("fused")),
         .. Enumerable.Repeat<Tensor>(null!, (int)ctx.get_data("inputs") - 1)];
}
