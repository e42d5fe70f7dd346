using Xunit.Abstractions;

namespace EfficientAttention.Tests;

/// <summary>
/// The configurations whose trainings died natively ("Expected false to be true … toFloat (Scalar.h:140)": Combiner-
/// Mixture's key-padding masks and the optimizer step) trained for many steps while another thread forces garbage
/// collections without pause — the condition under which a TorchSharp Scalar made implicitly from a number was freed
/// while libtorch read it (see <see cref="Scalars"/>). Before the fix this crashed the test process within seconds in
/// Release; a crash here is a native abort, not an assertion. Run in Release (.ci/run does), where the JIT ends a
/// local's life at its last use as it does in the trainings.
/// </summary>
[Trait("Category", "Slow")]
public class GcPressureStressTests(ITestOutputHelper output)
{
    /// <summary>A thread that allocates and forces a full, blocking collection (with finalizers run) in a loop.</summary>
    private sealed class GcPressure : IDisposable
    {
        private volatile bool stop;
        private readonly Thread thread;
        public int Collections;

        public GcPressure()
        {
            thread = new Thread(() =>
            {
                while (!stop)
                {
                    GC.KeepAlive(new byte[1 << 14]);
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true);
                    GC.WaitForPendingFinalizers();
                    Interlocked.Increment(ref Collections);
                }
            }) { IsBackground = true, Name = "gc-pressure" };
            thread.Start();
        }

        public void Dispose() { stop = true; thread.Join(); }
    }

    [Fact]
    public void Combiner_mixture_with_key_padding_and_the_optimizer_step_survive_constant_garbage_collection()
    {
        var task = ListOps.Generate(256, 128, seed: 5, minLength: 40);                   // padded: the masked_fill paths run
        var config = new TransformerConfig(2, 4, 32, 64, MaxLength: 128) { Attention = _ => CombinerVariant.CombinerMixture.Create(16, causal: false) };
        using var model = new EncoderClassifier(config, ListOps.Vocabulary.Count, 10, Pooling.Mean, padToken: 0, seed: 0);
        using var trainer = new Trainer(model, new TrainerOptions { Steps = 600, BatchSize = 8, LearningRate = 1e-3, WarmupSteps = 10, Progress = null });
        int collections;
        using (var pressure = new GcPressure())
        {
            var history = trainer.Fit(task.Data);
            Assert.True(double.IsFinite(history.Train[^1].Loss), $"loss {history.Train[^1].Loss}");
            collections = pressure.Collections;
        }
        output.WriteLine($"{collections} forced collections during 600 steps");
        Assert.True(collections >= 600, $"only {collections} forced collections during 600 steps: the pressure was too light to test anything");
    }
}
