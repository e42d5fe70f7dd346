using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>Trains for minutes: <c>Category=Slow</c>, run by CI as a step of its own.</summary>
[Trait("Category", "Slow")]
public class VisionTrainingTests
{
    [Fact]
    public void A_small_vit_reaches_75_percent_on_a_fashion_mnist_subset()
    {
        // 2 layers × 4 heads, D = 64, 4×4 patches; 400 steps of 64 on the first 10 000 training images.
        // Measured on the development machine: 80.3 % on the first 1 000 test images.
        Shared.DatasetSetup.FashionMnistDirectory();                       // installed as the README's set-up does, if missing
        var train = ImageViews.Classification(FashionMnist.Load(train: true, limit: 10_000));
        var test = ImageViews.Classification(FashionMnist.Load(train: false, limit: 1_000));
        manual_seed(0);
        var vit = new VisionTransformer(new TransformerConfig(2, 4, 64, 128, MaxLength: 50), imageSize: 28, patchSize: 4, channels: 1, classes: 10);
        using var trainer = new Trainer(vit, new TrainerOptions { Steps = 400, BatchSize = 64, LearningRate = 2e-3, WarmupSteps = 30, EvalEvery = 400, Progress = null });
        var history = trainer.Fit(train, test);
        Assert.True(history.Final!.Accuracy > 0.75, $"ViT on Fashion-MNIST: {history.Final}");
    }
}
