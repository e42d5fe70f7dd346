using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>
/// The autograd plumbing shared by sparse maps onto the simplex taking (scores, dim): the forward saves the output p,
/// the backward is a Jacobian–vector product that needs only p (the derived class supplies both halves).
/// </summary>
internal abstract class SimplexMapFunction<T> : SingleTensorFunction<T> where T : SimplexMapFunction<T>, new()
{
    /// <summary>The forward kernel: p = map(scores) along <paramref name="dim"/>.</summary>
    protected abstract Tensor Map(Tensor scores, long dim);

    /// <summary>Jᵀg for the map's Jacobian at output <paramref name="p"/> (J is symmetric for these maps).</summary>
    protected abstract Tensor JacobianVectorProduct(Tensor p, Tensor grad, long dim);

    public sealed override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (scores, dim) = ((Tensor)vars[0], (long)vars[1]);
        var p = Map(scores, dim);
        ctx.save_for_backward([p]);
        ctx.save_data("dim", dim);
        return p;
    }

    public sealed override List<Tensor> backward(AutogradContext ctx, Tensor grad) =>
        [JacobianVectorProduct(ctx.get_saved_variables()[0], grad, (long)ctx.get_data("dim")), null!];
}
