namespace EfficientAttention.Pretrained.Tests;

/// <summary>
/// The pretrained-model loader hands libtorch no number that the garbage collector may free during the call (see
/// <c>Scalars</c> and the library's own ScalarLifetimeTests); checked here, where the loader's references (OnnxSharp,
/// ML.Tokenizers) are loaded so that its sources compile for the check.
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void The_pretrained_loader_hands_libtorch_no_number_that_the_garbage_collector_may_free_during_the_call()
    {
        var found = EfficientAttention.Tests.Shared.ScalarLifetimeCheck.Violations(Path.Combine(EfficientAttention.Tests.Shared.DatasetSetup.RepositoryRoot(), "src", "EfficientAttention.Pretrained"));
        Assert.True(found.Count == 0, $"{found.Count} places make a collectable Scalar (pass Scalars.Of(x) / Scalars.One explicitly):\n" + string.Join("\n", found.Take(80)));
    }
}
