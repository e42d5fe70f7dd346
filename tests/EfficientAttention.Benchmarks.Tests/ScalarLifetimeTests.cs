namespace EfficientAttention.Benchmarks.Tests;

/// <summary>The benchmarks hands libtorch no collectable Scalar (see <c>Scalars</c>); checked here, where its references are loaded.</summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void No_number_reaches_libtorch_as_a_Scalar_the_garbage_collector_may_free() => EfficientAttention.Tests.Shared.ScalarLifetimeCheck.AssertNone("EfficientAttention.Benchmarks");
}
