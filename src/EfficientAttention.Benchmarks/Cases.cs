using static TorchSharp.torch;

namespace EfficientAttention.Benchmarks;

/// <summary>
/// One benchmark case: an attention computation at one length, on inputs it creates itself (B = 1, H = 4, d = 64,
/// float32, causal unless it says otherwise). <see cref="Setup"/> runs once, outside the timing (a predicted graph's
/// layout, the previous layer's maps for reuse); <see cref="Run"/> is what is timed.
/// </summary>
public sealed record BenchCase(string Name, string Family, int Length, Func<BenchInputs, Tensor> Run, Func<int, object?>? Setup = null)
{
    /// <summary>FLOPs of dense attention at this length (QKᵀ and PV, 2 per multiply–add), forward; null when not meaningful.</summary>
    public double? DenseFlops { get; init; }
    public string? Note { get; init; }
}

/// <summary>The tensors a case works on; <see cref="State"/> is what <see cref="BenchCase.Setup"/> returned.</summary>
public sealed record BenchInputs(Tensor Q, Tensor K, Tensor V, Tensor X, object? State);

public static class Cases
{
    public const int Batch = 1, Heads = 4, HeadDim = 64;

    /// <summary>
    /// Every case at every length in <paramref name="lengths"/>, minus the dense ones above their limits (their L × L
    /// matrices, and for sparsemax/bisection a full sort or 50 passes per row, make them minutes long there).
    /// </summary>
    public static IReadOnlyList<BenchCase> All(IEnumerable<int> lengths, int denseLimit = 8192, int sortLimit = 2048, int bisectLimit = 1024, int reuseLimit = 4096, int routedLimit = 4096)
    {
        var cases = new List<BenchCase>();
        foreach (var l in lengths.Distinct().Order())
        {
            double flops = 4.0 * Batch * Heads * l * (double)l * HeadDim;
            cases.Add(new("sdpa", "full", l, i => ScaledDotProductAttention.Fused(i.Q, i.K, i.V, AttentionMask.CausalOnly)) { DenseFlops = flops });
            if (l <= denseLimit)
            {
                cases.Add(new("softmax", "full", l, i => Dense(i, Normalizer.Softmax)) { DenseFlops = flops });
                cases.Add(new("entmax15", "entmax", l, i => Dense(i, Normalizer.Entmax15)) { DenseFlops = flops,
                    Note = $"the causal mask inside the entmax kernel{(l >= CausalEntmaxAttentionFunction.SparseFrom ? "; backward pass over p's support (these random inputs keep about 3 % of causal pairs at L = 1024, 1 % at 4096)" : "; dense backward (L < " + CausalEntmaxAttentionFunction.SparseFrom + ")")}" });
            }
            if (l <= sortLimit)                                              // the partial sort's top-k, and full sorts where it fails
                cases.Add(new("entmax15-torch-ops", "entmax", l, i => ScaledDotProductAttention.Naive(i.Q, i.K, i.V, AttentionMask.CausalOnly, s => Normalizers.Entmax15TensorOps(s)).Output) { DenseFlops = flops,
                    Note = "1.5-entmax as PyTorch runs the entmax package's algorithm (top-k partial sort, closed-form τ; libtorch tensor operations only), against the fused C# kernel of entmax15" });
            if (l <= sortLimit)                                              // a full sort of every row
                cases.Add(new("sparsemax", "entmax", l, i => Dense(i, Normalizer.Sparsemax)) { DenseFlops = flops });
            if (l <= bisectLimit)                                            // 50 full passes per call
                cases.Add(new("entmax-bisect-1.5", "entmax", l, i => Dense(i, Normalizer.EntmaxBisect(1.5))) { DenseFlops = flops });
            foreach (var partition in Enum.GetValues<CombinerPartition>())
            {
                var options = CombinerOptions.ForLength(partition, l);
                cases.Add(new($"combiner-{partition.ToString().ToLowerInvariant()}", "combiner", l, i => Combiner.Attend(i.Q, i.K, i.V, options)) { Note = $"s = {options.BlockSize}" });
            }
            if (l <= reuseLimit)
            {
                for (int k = 0; k <= Heads; k++)
                {
                    int reused = k;
                    cases.Add(new($"reuse-k{k}", "reuse", l, i => ReuseLayer(i, reused), length => ReuseState(length, reused))
                        { Note = $"one layer D = {Heads * HeadDim}, H = {Heads}, K = {k} reused; analytic FLOP saving {ReuseSaving(l, k):P1}" });
                }
                cases.Add(new("mha-sdpa", "reuse", l, i => ((MultiHeadAttention)i.State!).Forward(i.X, AttentionMask.CausalOnly, null, withProbabilities: false).Output, _ => FusedLayer())
                    { Note = $"one layer D = {Heads * HeadDim}, H = {Heads} with libtorch's fused SDPA: maps never materialised (a layer that hands no maps on)" });
            }
            if (l <= routedLimit)
                foreach (var sparsity in new[] { 0.8, 0.9, 0.95 })
                {
                    double s = sparsity;
                    cases.Add(new($"sparsefinder-routed-{s:0.##}", "sparsefinder", l, i => RoutedEntmax.Attend(i.Q, i.K, i.V, (RoutedLayout)i.State!),
                                  length => RoutedLayout.FromGraph(Sparsefinder.RandomCausalGraph(length, Heads, s, seed: 1)))
                        { Note = $"entmax over a predicted graph keeping {1 - s:P0} of causal pairs (layout built outside the timing; strategy Auto: {(Math.Ceiling((1 - s) * l / 2) * 32 <= l ? "gather" : "score rows")})" });
                }
            if (l <= routedLimit)
                cases.Add(new("sparsefinder-end-to-end-0.9", "sparsefinder", l, EndToEnd, EndToEndState)
                    { Note = "synthetic scaling row (random q, k and a random projection, not a trained predictor; notebook 03 times the learned graph on the masked LM): project q, k to r = 4, k-means (10 clusters, fitted outside the timing) sorts queries and keys by cluster, entmax within each cluster (ClusteredEntmax); ≈ 90 % of causal pairs skipped" });
        }
        return cases;
    }

    private sealed record EndToEndSetup(Tensor Projection, KMeansPredictor Predictor);

    /// <summary>A fitted predictor: random r = 4 projections per head and 10 k-means centroids fitted on projected random q, k.</summary>
    private static object EndToEndState(int length)
    {
        var g = new Generator(3);
        var projection = randn(new long[] { Heads, HeadDim, 4 }, generator: g).div_(Scalars.Of(Math.Sqrt(HeadDim)));
        var sample = randn(new long[] { Batch, Heads, Math.Min(length, 1024), HeadDim }, generator: g).matmul(projection);
        return new EndToEndSetup(projection, KMeansPredictor.Fit(sample, sample, clusters: 10, seed: 0));
    }

    /// <summary>Sparsefinder at inference and training time: predictor, layout and routed entmax, all timed.</summary>
    private static Tensor EndToEnd(BenchInputs i)
    {
        var setup = (EndToEndSetup)i.State!;
        return ClusteredEntmax.Attend(i.Q, i.K, i.V, setup.Predictor, i.Q.detach().matmul(setup.Projection), i.K.detach().matmul(setup.Projection), causal: true);
    }

    /// <summary>The analytic FLOP saving of one reuse layer with K reused heads against K = 0 (forward).</summary>
    public static double ReuseSaving(int length, int reused)
        => ReuseAnalysis.Cost((long)Batch * length, Heads * HeadDim, Heads, reused).SavingAgainst(ReuseAnalysis.Cost((long)Batch * length, Heads * HeadDim, Heads, 0));

    private static Tensor Dense(BenchInputs i, Normalizer normalizer) => ScaledDotProductAttention.Naive(i.Q, i.K, i.V, AttentionMask.CausalOnly, normalizer).Output;

    private sealed record ReuseSetup(MultiHeadAttention Layer, Tensor Previous);

    private static object FusedLayer()
    {
        manual_seed(0);
        return new MultiHeadAttention(Heads * HeadDim, Heads, new ScaledDotProductAttention(useFusedKernel: true));
    }

    private static object ReuseState(int length, int reused)
    {
        manual_seed(0);
        var layer = new MultiHeadAttention(Heads * HeadDim, Heads, new ScaledDotProductAttention(useFusedKernel: false), reusedHeads: reused);   // maps materialised, as a layer that hands them on
        var previous = Normalizers.Softmax(randn(Batch, Heads, length, length)).masked_fill(ones(length, length, ScalarType.Bool).triu(1), Scalars.Zero);
        return new ReuseSetup(layer, previous);
    }

    private static Tensor ReuseLayer(BenchInputs i, int reused)
    {
        var setup = (ReuseSetup)i.State!;
        return setup.Layer.Forward(i.X, AttentionMask.CausalOnly, reused > 0 ? setup.Previous : null, withProbabilities: false).Output;
    }
}
