using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// A named map from scores to probabilities along the last dimension, for attention to plug in.
/// <see cref="Alpha"/> is the entmax α (1 = softmax, 1.5, 2 = sparsemax).
/// </summary>
public sealed record Normalizer(string Name, double Alpha, Func<Tensor, Tensor> Apply)
{
    public static Normalizer Softmax { get; } = new("softmax", 1.0, s => Normalizers.Softmax(s));
    public static Normalizer Sparsemax { get; } = new("sparsemax", 2.0, s => Normalizers.Sparsemax(s));
    public static Normalizer Entmax15 { get; } = new("entmax15", 1.5, s => Normalizers.Entmax15(s));

    /// <summary>α-entmax by bisection (any α &gt; 1).</summary>
    public static Normalizer EntmaxBisect(double alpha, int iterations = 50)
    {
        if (!(alpha > 1) || double.IsInfinity(alpha))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"alpha = {alpha}; expected a finite α > 1.");
        return new($"entmax-bisect-{alpha}", alpha, s => Normalizers.EntmaxBisect(s, alpha, iterations: iterations));
    }

    public override string ToString() => Name;
}
