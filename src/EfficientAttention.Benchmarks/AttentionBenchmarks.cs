using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace EfficientAttention.Benchmarks;

/// <summary>
/// The full BenchmarkDotNet suite (statistics, allocation column) over the same cases as the quick mode:
/// <c>dotnet run -c Release --project src/EfficientAttention.Benchmarks -- bdn --filter '*'</c>. Slow: hours for all lengths.
/// </summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private BenchCase current = null!;
    private BenchInputs inputs = null!;

    [Params(256, 1024, 4096, 8192)]
    public int L { get; set; }

    [ParamsSource(nameof(Names))]
    public string Case { get; set; } = "sdpa";

    public static IEnumerable<string> Names => Cases.All([1024]).Select(c => c.Name).Distinct();

    [GlobalSetup]
    public void Setup()
    {
        current = Cases.All([L]).FirstOrDefault(c => c.Name == Case) ?? Cases.All([L]).First();
        manual_seed(L);
        inputs = new BenchInputs(randn(Cases.Batch, Cases.Heads, L, Cases.HeadDim), randn(Cases.Batch, Cases.Heads, L, Cases.HeadDim),
                                 randn(Cases.Batch, Cases.Heads, L, Cases.HeadDim), randn(Cases.Batch, L, Cases.Heads * Cases.HeadDim), current.Setup?.Invoke(L));
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        current.Run(inputs);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = NewDisposeScope();
        var grads = inputs with { Q = inputs.Q.detach().requires_grad_(true), K = inputs.K.detach().requires_grad_(true), V = inputs.V.detach().requires_grad_(true), X = inputs.X.detach().requires_grad_(true) };
        current.Run(grads).sum().backward();
    }
}
