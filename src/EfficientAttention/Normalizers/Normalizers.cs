using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Maps from scores to probability distributions along one dimension: the α-entmax family
/// <c>α-entmax(z) = argmax_{p ∈ Δ} ⟨p, z⟩ + H^T_α(p)</c> (Peters, Niculae &amp; Martins, 2019), of which softmax (α → 1),
/// 1.5-entmax and sparsemax (α = 2) are members. The solution is <c>p_i = [(α − 1) z_i − τ]₊^{1/(α−1)}</c> with the
/// threshold τ chosen so that Σ p = 1; entries below the threshold are exactly zero for α &gt; 1.
/// <para>
/// Conventions for every function here: any leading shape; any <c>dim</c> (negative counts from the end);
/// float32 or float64; <c>-inf</c> scores are outside the support; a slice that is all <c>-inf</c> gives zeros (not NaN)
/// and zero gradient. Sparse maps have hand-derived backward passes (custom autograd functions); see each kernel.
/// </para>
/// </summary>
public static class Normalizers
{
    /// <summary>softmax(z)_i = exp(z_i) / Σ_j exp(z_j) — the α → 1 limit; never sparse (except for <c>-inf</c> scores).</summary>
    public static Tensor Softmax(Tensor scores, long dim = -1)
    {
        Guard.FloatingTensor(scores, nameof(scores));
        dim = Guard.Dim(dim, scores.dim());
        using var scope = NewDisposeScope();
        var dead = scores.amax(new[] { dim }, keepdim: true).eq(Scalars.NegativeInfinity);   // (…, 1, …) slices that are all -inf
        if (!dead.any().item<bool>()) return scores.softmax(dim).MoveToOuterDisposeScope(); // the common case: libtorch's softmax alone
        return scores.masked_fill(dead, Scalars.Zero).softmax(dim).masked_fill(dead, Scalars.Zero).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// sparsemax(z) = argmin_{p ∈ Δ} ‖p − z‖² — the Euclidean projection onto the simplex (Martins &amp; Astudillo, 2016),
    /// α = 2: p_i = [z_i − τ]₊. Exact, sort-based; backward is the projection onto the support:
    /// ∂ = s ⊙ (g − ⟨s, g⟩ / |s|), s = 1[p &gt; 0].
    /// </summary>
    public static Tensor Sparsemax(Tensor scores, long dim = -1)
    {
        Guard.FloatingTensor(scores, nameof(scores));
        dim = Guard.Dim(dim, scores.dim());
        return SparsemaxFunction.apply(scores, dim);
    }

    /// <summary>
    /// 1.5-entmax: p_i = [z_i / 2 − τ]₊², exact and sort-based (Peters et al., 2019, Alg. 2). Backward in closed form:
    /// ∂ = g ⊙ √p − √p · ⟨g, √p⟩ / Σ√p (the Jacobian–vector product with weights p^{2−α} = √p).
    /// </summary>
    public static Tensor Entmax15(Tensor scores, long dim = -1) => CheckedEntmax15(scores, dim, fused: true);

    /// <summary>
    /// <see cref="Entmax15"/> on libtorch tensor operations only — the entmax package's algorithm (top-k partial sort,
    /// closed-form τ) as PyTorch runs it, never the fused C# kernel. For the benchmark's comparison and tests.
    /// </summary>
    internal static Tensor Entmax15TensorOps(Tensor scores, long dim = -1) => CheckedEntmax15(scores, dim, fused: false);

    private static Tensor CheckedEntmax15(Tensor scores, long dim, bool fused)
    {
        Guard.FloatingTensor(scores, nameof(scores));
        dim = Guard.Dim(dim, scores.dim());
        return Entmax15Function.apply(scores, dim, fused);
    }

    /// <summary>
    /// α-entmax for any α &gt; 1 by bisection on the threshold τ (Blondel et al., 2019): <paramref name="iterations"/>
    /// halvings of an interval of width ≤ 1 that brackets τ, then renormalisation. Backward in closed form with weights
    /// p^{2−α} on the support. Not differentiable with respect to α here.
    /// </summary>
    public static Tensor EntmaxBisect(Tensor scores, double alpha, long dim = -1, int iterations = 50)
    {
        Guard.FloatingTensor(scores, nameof(scores));
        if (!(alpha > 1) || double.IsInfinity(alpha))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"alpha = {alpha}; expected a finite α > 1 (α = 1 is softmax: use Normalizers.Softmax).");
        if (iterations < 1)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"iterations = {iterations}; expected ≥ 1.");
        dim = Guard.Dim(dim, scores.dim());
        return EntmaxBisectFunction.apply(scores, dim, alpha, iterations);
    }
}
