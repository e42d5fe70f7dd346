using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>
/// Every device-sensitive path on every available device: always "cpu", and "cuda" where torch.cuda.is_available()
/// (a CUDA libtorch package, see README). Outputs must stay on the inputs' device and match the CPU float64 result.
/// </summary>
public class DeviceTests
{
    public static IEnumerable<object[]> Devices() =>
        new[] { "cpu" }.Concat(cuda.is_available() ? ["cuda"] : Array.Empty<string>()).Select(d => new object[] { d });

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor, Tensor>> Paths = new()
    {
        ["softmax naive"] = (q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Softmax).Output,
        ["sdpa fused"] = (q, k, v) => ScaledDotProductAttention.Fused(q, k, v, AttentionMask.CausalOnly),
        ["sparsemax"] = (q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Sparsemax).Output,
        ["entmax15"] = (q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Entmax15).Output,
        ["entmax bisect"] = (q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.EntmaxBisect(1.3)).Output,
        ["combiner fixed"] = (q, k, v) => Combiner.Attend(q, k, v, new CombinerOptions(CombinerPartition.Fixed, 4)),
        ["combiner logsparse"] = (q, k, v) => Combiner.Attend(q, k, v, new CombinerOptions(CombinerPartition.Logsparse, 4)),
        ["combiner axial"] = (q, k, v) => Combiner.Attend(q, k, v, new CombinerOptions(CombinerPartition.Axial, 4)),
        ["combiner mixture"] = (q, k, v) => Combiner.Attend(q, k, v, new CombinerOptions(CombinerPartition.Mixture, 4)),
        ["routed entmax"] = (q, k, v) => RoutedEntmax.Attend(q, k, v, RoutedLayout.FromGraph(Sparsefinder.RandomCausalGraph(q.shape[2], (int)q.shape[1], 0.5, seed: 1, on: q.device))),
        ["k-means predictor"] = (q, k, v) => KMeansPredictor.Fit(q, k, 3, seed: 1).Predict(q, k, AttentionGraph.Valid(AttentionMask.CausalOnly, 1, q.shape[1], q.shape[2], q.shape[2], q.device)).to(q.dtype),
    };

    [Theory, MemberData(nameof(Devices))]
    public void Attention_paths_run_on_the_device_of_their_inputs(string deviceName)
    {
        var device = torch.device(deviceName);
        var (q, k, v) = (T.Randn(1, 1, 2, 16, 8), T.Randn(2, 1, 2, 16, 8), T.Randn(3, 1, 2, 16, 8));
        foreach (var (name, path) in Paths)
        {
            var expected = path(q, k, v);
            var actual = path(q.to(device), k.to(device), v.to(device));
            Assert.True(actual.device.type == device.type, $"{name}: output on {actual.device}, inputs on {device}");
            T.Close(T.ToArray(expected), T.ToArray(actual.cpu()), 1e-9, $"{name} on {deviceName}");
        }
    }

    [Theory, MemberData(nameof(Devices))]
    public void Models_train_a_step_on_the_device(string deviceName)
    {
        var device = torch.device(deviceName);
        manual_seed(3);
        var config = new TransformerConfig(2, 2, 16, 32, MaxLength: 16) { Attention = l => l == 0 ? new CombinerAttention(new CombinerOptions(CombinerPartition.Fixed, 4)) : new SparsefinderAttention() };
        var lm = new CausalLanguageModel(config, vocabularySize: 7);
        lm.to(device);
        var tokens = randint(0, 7, new long[] { 2, 16 }, generator: new Generator(1)).to(device);
        var loss = Metrics.CrossEntropy(lm.call(tokens), tokens);
        loss.backward();
        Assert.True(lm.parameters().All(p => p.grad is null || p.grad.device.type == device.type));
        Assert.True(double.IsFinite(loss.item<float>()));
    }
}
