namespace EfficientAttention.Pretrained.Tests;

/// <summary>The pretrained-model loader hands libtorch no collectable Scalar (see <c>Scalars</c>); checked here, where its references are loaded.</summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void No_number_reaches_libtorch_as_a_Scalar_the_garbage_collector_may_free() => EfficientAttention.Tests.Shared.ScalarLifetimeCheck.AssertNone("EfficientAttention.Pretrained");
}
