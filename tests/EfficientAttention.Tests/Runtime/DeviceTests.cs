using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>
/// Every device-sensitive path on every available device: always "cpu", and "cuda" where torch.cuda.is_available()
/// (a CUDA libtorch package, see README). Outputs must stay on the inputs' device and match the pure-C# double
/// <see cref="Reference"/> (or <see cref="CombinerReference"/>, <see cref="GraphReference"/>), head by head.
/// </summary>
public class DeviceTests
{
    private const int Heads = 2, Length = 16, Dim = 8;

    public static IEnumerable<object[]> Devices() =>
        new[] { "cpu" }.Concat(cuda.is_available() ? ["cuda"] : Array.Empty<string>()).Select(d => new object[] { d });

    private static bool[,] Causal()
    {
        var allowed = new bool[Length, Length];
        for (int i = 0; i < Length; i++) for (int j = 0; j <= i; j++) allowed[i, j] = true;
        return allowed;
    }

    private static bool[,] Graph(Tensor graph, int h)
    {
        var flat = graph[0, h].cpu().data<bool>().ToArray();
        var result = new bool[Length, Length];
        for (int i = 0; i < Length; i++) for (int j = 0; j < Length; j++) result[i, j] = flat[i * Length + j];
        return result;
    }

    private static readonly Tensor Routing = Sparsefinder.RandomCausalGraph(Length, Heads, 0.5, seed: 1);

    /// <summary>name → (the tensor path, its reference for head h of q, k, v).</summary>
    private static readonly Dictionary<string, (Func<Tensor, Tensor, Tensor, Tensor> Path, Func<int, double[,], double[,], double[,], double[,]> Reference)> Paths = new()
    {
        ["softmax naive"] = ((q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Softmax).Output,
                             (_, q, k, v) => Reference.Attention(q, k, v, Causal(), Reference.Softmax).Output),
        ["sdpa fused"] = ((q, k, v) => ScaledDotProductAttention.Fused(q, k, v, AttentionMask.CausalOnly),
                          (_, q, k, v) => Reference.Attention(q, k, v, Causal(), Reference.Softmax).Output),
        ["sparsemax"] = ((q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Sparsemax).Output,
                         (_, q, k, v) => Reference.Attention(q, k, v, Causal(), Reference.Sparsemax).Output),
        ["entmax15"] = ((q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Entmax15).Output,
                        (_, q, k, v) => Reference.Attention(q, k, v, Causal(), Reference.Entmax15).Output),
        ["entmax bisect"] = ((q, k, v) => ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.EntmaxBisect(1.3, iterations: 80)).Output,
                             (_, q, k, v) => Reference.Attention(q, k, v, Causal(), z => Reference.Entmax(z, 1.3)).Output),
        ["combiner fixed"] = Combined(CombinerPartition.Fixed),
        ["combiner logsparse"] = Combined(CombinerPartition.Logsparse),
        ["combiner axial"] = Combined(CombinerPartition.Axial),
        ["combiner mixture"] = Combined(CombinerPartition.Mixture),
        ["routed entmax"] = ((q, k, v) => RoutedEntmax.Attend(q, k, v, RoutedLayout.FromGraph(Routing.to(q.device))),
                             (h, q, k, v) => Reference.Attention(q, k, v, Graph(Routing, h), Reference.Entmax15).Output),
    };

    private static (Func<Tensor, Tensor, Tensor, Tensor>, Func<int, double[,], double[,], double[,], double[,]>) Combined(CombinerPartition partition)
    {
        var options = new CombinerOptions(partition, 4);
        return ((q, k, v) => Combiner.Attend(q, k, v, options), (_, q, k, v) => CombinerReference.Attend(q, k, v, options).Output);
    }

    [Theory, MemberData(nameof(Devices))]
    public void Attention_paths_run_on_the_device_of_their_inputs_and_match_the_reference(string deviceName)
    {
        var device = torch.device(deviceName);
        var (q, k, v) = (TestTensors.Randn(1, 1, Heads, Length, Dim), TestTensors.Randn(2, 1, Heads, Length, Dim), TestTensors.Randn(3, 1, Heads, Length, Dim));
        foreach (var (name, (path, reference)) in Paths)
        {
            var actual = path(q.to(device), k.to(device), v.to(device));
            Assert.True(actual.device.type == device.type, $"{name}: output on {actual.device}, inputs on {device}");
            for (int h = 0; h < Heads; h++)
                TestTensors.Close(TestTensors.Flat(reference(h, TestTensors.Slice(q, 0, h), TestTensors.Slice(k, 0, h), TestTensors.Slice(v, 0, h))), TestTensors.Flat(TestTensors.Slice(actual.cpu(), 0, h)), 1e-9, $"{name} on {deviceName}, head {h}");
        }
    }

    [Theory, MemberData(nameof(Devices))]
    public void The_k_means_predictor_matches_its_reference_on_the_device(string deviceName)
    {
        var device = torch.device(deviceName);
        var (q, k) = (TestTensors.Randn(4, 1, Heads, Length, Dim), TestTensors.Randn(5, 1, Heads, Length, Dim));
        var predictor = KMeansPredictor.Fit(q.to(device), k.to(device), 3, seed: 1);
        var valid = AttentionGraph.Valid(AttentionMask.CausalOnly, 1, Heads, Length, Length, device);
        var graph = predictor.Predict(q.to(device), k.to(device), valid);
        Assert.True(graph.device.type == device.type, $"graph on {graph.device}, inputs on {device}");
        for (int h = 0; h < Heads; h++)
        {
            var centroids = Enumerable.Range(0, 3).Select(c => TestTensors.ToArray(predictor.Centroids[h, c].cpu())).ToArray();
            var expected = GraphReference.Clusters(TestTensors.Slice(q, 0, h), TestTensors.Slice(k, 0, h), Causal(), centroids, 1, false);
            Assert.Equal(expected.Cast<bool>(), Graph(graph, h).Cast<bool>());
        }
    }

    [Theory, MemberData(nameof(Devices))]
    public void Models_train_a_step_on_the_device(string deviceName)
    {
        var device = torch.device(deviceName);
        var config = new TransformerConfig(2, 2, 16, 32, MaxLength: 16) { Attention = l => l == 0 ? new CombinerAttention(new CombinerOptions(CombinerPartition.Fixed, 4)) : new SparsefinderAttention() };
        var lm = new CausalLanguageModel(config, vocabularySize: 7, seed: 3);
        lm.to(device);
        var tokens = randint(0, 7, new long[] { 2, 16 }, generator: new Generator(1)).to(device);
        var loss = Metrics.CrossEntropy(lm.call(tokens), tokens);
        loss.backward();
        Assert.True(lm.parameters().All(p => p.grad is null || p.grad.device.type == device.type));
        Assert.True(double.IsFinite(loss.item<float>()));
    }
}
