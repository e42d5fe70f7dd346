using TorchSharp;

namespace EfficientAttention;

/// <summary>
/// Numbers handed to libtorch as <see cref="Scalar"/>s that stay alive until libtorch is done with them.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 converts a C# number to a native <c>c10::Scalar</c> wrapped in a <see cref="Scalar"/> whose only
/// owner is the garbage collector, and its operators do not keep that wrapper alive across the native call that reads
/// it (no <c>GC.KeepAlive</c>; upstream dotnet/TorchSharp#1434, #1496). Once the call has read the handle, the wrapper is
/// unreachable; a collection started by any other thread during the call queues its finalizer, which frees the native
/// Scalar while libtorch still reads it — libtorch then sees a garbage type tag and fails with "Expected false to be
/// true … toFloat (Scalar.h:140)". That killed 2 of the 72 Combiner trainings (once in AdamW's step, once in a
/// <c>masked_fill</c>); under a thread that forces collections it happens within seconds. TorchSharp also makes such
/// Scalars inside some of its own members: <c>a + b</c> of two tensors is <c>a.add(b)</c>, which passes an implicit
/// alpha of 1; <c>t * 0.5</c>, <c>t.square()</c>, <c>arange(n)</c> and its optimizers' steps likewise.
/// <see cref="Of(double)"/> returns a Scalar that this thread keeps referenced until <see cref="Kept"/> more have been
/// made on it — long after the expression that made it has finished — and then leaves to the collector. The library
/// passes every number this way (<c>a.add(b, Scalars.One)</c> for a sum of tensors, <c>t.mul(Scalars.Of(0.5))</c>),
/// steps with its own optimizer (<see cref="AdamW"/>), and never calls a TorchSharp member that converts a number
/// internally: a test reads TorchSharp's IL for those members and compiles the library's sources to find any call of
/// one, or any implicit conversion. Use it inside the expression that needs the number; never store the result.
/// </remarks>
public static class Scalars
{
    /// <summary>How many recent Scalars each thread keeps alive.</summary>
    public const int Kept = 1024;

    private static Scalar? zero, one, negativeInfinity;

    /// <summary>0 (integer), made once and never collected.</summary>
    public static Scalar Zero => LazyInitializer.EnsureInitialized(ref zero, () => 0L.ToScalar());

    /// <summary>1 (integer), made once and never collected.</summary>
    public static Scalar One => LazyInitializer.EnsureInitialized(ref one, () => 1L.ToScalar());

    /// <summary>−∞, what masked scores are filled with; made once and never collected.</summary>
    public static Scalar NegativeInfinity => LazyInitializer.EnsureInitialized(ref negativeInfinity, () => double.NegativeInfinity.ToScalar());

    /// <summary>
    /// 0, 1, …, n − 1 as int64 on <paramref name="device"/>: <c>torch.arange</c> with every number explicit (its shorter
    /// overloads make their start and step from numbers inside TorchSharp).
    /// </summary>
    public static torch.Tensor Arange(long n, torch.Device device) => torch.arange(Zero, Of(n), One, torch.ScalarType.Int64, device);

    [ThreadStatic] private static Scalar?[]? recent;
    [ThreadStatic] private static int next;

    /// <summary>A floating-point Scalar kept alive on this thread for the next <see cref="Kept"/> conversions.</summary>
    public static Scalar Of(double value) => Keep(value.ToScalar());

    /// <summary>An integer Scalar kept alive on this thread for the next <see cref="Kept"/> conversions.</summary>
    public static Scalar Of(long value) => Keep(value.ToScalar());

    private static Scalar Keep(Scalar scalar)
    {
        var ring = recent ??= new Scalar?[Kept];
        ring[next] = scalar;                     // the one it replaces is left to the collector: nothing uses it any more
        next = (next + 1) % Kept;
        return scalar;
    }
}
