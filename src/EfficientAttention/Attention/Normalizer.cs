using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>The maps from scores to probabilities that attention can plug in.</summary>
public enum NormalizerKind
{
    /// <summary>α = 1: every key gets some weight.</summary>
    Softmax,
    /// <summary>α = 1.5, by the exact sort-based algorithm.</summary>
    Entmax15,
    /// <summary>α = 2: the Euclidean projection onto the simplex.</summary>
    Sparsemax,
    /// <summary>Any α &gt; 1, by bisection on the threshold τ.</summary>
    EntmaxBisect,
}

/// <summary>
/// A map from scores to probabilities along the last dimension, for attention to plug in: its <see cref="Kind"/>, the
/// entmax <see cref="Alpha"/> (1 = softmax, 1.5, 2 = sparsemax) and, for bisection, its iteration count.
/// </summary>
public sealed record Normalizer
{
    private Normalizer(NormalizerKind kind, double alpha, int iterations) => (Kind, Alpha, Iterations) = (kind, alpha, iterations);

    public static Normalizer Softmax { get; } = new(NormalizerKind.Softmax, 1.0, 0);
    public static Normalizer Sparsemax { get; } = new(NormalizerKind.Sparsemax, 2.0, 0);
    public static Normalizer Entmax15 { get; } = new(NormalizerKind.Entmax15, 1.5, 0);

    /// <summary>α-entmax by bisection (any α &gt; 1).</summary>
    public static Normalizer EntmaxBisect(double alpha, int iterations = 50)
    {
        if (!(alpha > 1) || double.IsInfinity(alpha))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"alpha = {alpha}; expected a finite α > 1.");
        if (iterations < 1)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"iterations = {iterations}; expected ≥ 1.");
        return new(NormalizerKind.EntmaxBisect, alpha, iterations);
    }

    public NormalizerKind Kind { get; }
    public double Alpha { get; }

    /// <summary>Bisection steps (<see cref="NormalizerKind.EntmaxBisect"/> only; 0 otherwise).</summary>
    public int Iterations { get; }

    /// <summary>True when libtorch's fused <c>scaled_dot_product_attention</c> computes this normaliser (softmax).</summary>
    public bool HasFusedKernel => Kind == NormalizerKind.Softmax;

    public string Name => Kind switch
    {
        NormalizerKind.Softmax => "softmax",
        NormalizerKind.Sparsemax => "sparsemax",
        NormalizerKind.Entmax15 => "entmax15",
        _ => $"entmax-bisect-{Alpha}",
    };

    /// <summary>Probabilities along the last dimension of <paramref name="scores"/>; −∞ scores get exactly 0.</summary>
    public Tensor Apply(Tensor scores) => Kind switch
    {
        NormalizerKind.Softmax => Normalizers.Softmax(scores),
        NormalizerKind.Sparsemax => Normalizers.Sparsemax(scores),
        NormalizerKind.Entmax15 => Normalizers.Entmax15(scores),
        _ => Normalizers.EntmaxBisect(scores, Alpha, iterations: Iterations),
    };

    public override string ToString() => Name;
}
