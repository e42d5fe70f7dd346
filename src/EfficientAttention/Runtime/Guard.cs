using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Argument checks shared by the library. Each failure is an <see cref="ArgumentException"/> that names the argument,
/// what it received (shape, dtype, device or value) and what was expected.
/// </summary>
internal static class Guard
{
    public static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";

    /// <summary>A defined float32 or float64 tensor of at least <paramref name="minRank"/> dimensions.</summary>
    public static void FloatingTensor(Tensor? t, string name, int minRank = 1)
    {
        TorchRuntime.EnsureLoaded();
        if (t is null) throw new ArgumentNullException(name);
        if (t.dtype != ScalarType.Float32 && t.dtype != ScalarType.Float64)
            throw new ArgumentException($"{name} has dtype {t.dtype}; expected Float32 or Float64.", name);
        if (t.dim() < minRank)
            throw new ArgumentException($"{name} has shape {Shape(t)} (rank {t.dim()}); expected rank ≥ {minRank}.", name);
    }

    /// <summary>Normalises <paramref name="dim"/> (negative counts from the end) for a tensor of rank <paramref name="rank"/>.</summary>
    public static long Dim(long dim, long rank, string name = "dim")
    {
        if (dim < -rank || dim >= rank)
            throw new ArgumentOutOfRangeException(name, dim, $"{name} = {dim} is out of range for a tensor of rank {rank}; expected {-rank} ≤ {name} < {rank}.");
        return dim < 0 ? dim + rank : dim;
    }

    public static void Rank(Tensor t, int rank, string name, string layout)
    {
        if (t.dim() != rank)
            throw new ArgumentException($"{name} has shape {Shape(t)} (rank {t.dim()}); expected rank {rank}: {layout}.", name);
    }

    public static void SameDTypeAndDevice(Tensor reference, string referenceName, Tensor t, string name)
    {
        if (t.dtype != reference.dtype)
            throw new ArgumentException($"{name} has dtype {t.dtype} but {referenceName} has {reference.dtype}; expected the same dtype.", name);
        if (t.device.ToString() != reference.device.ToString())
            throw new ArgumentException($"{name} is on device {t.device} but {referenceName} is on {reference.device}; expected the same device.", name);
    }

    public static void Size(Tensor t, string name, int axis, long expected, string meaning)
    {
        if (t.shape[axis] != expected)
            throw new ArgumentException($"{name} has shape {Shape(t)}; expected size {expected} on axis {axis} ({meaning}).", name);
    }

    public static void Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} = {value}; expected a finite positive number.");
    }
}
