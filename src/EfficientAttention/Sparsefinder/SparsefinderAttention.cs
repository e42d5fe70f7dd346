using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// The attention core of a Sparsefinder experiment, built for one method and immutable. Without a
/// <see cref="Predictor"/> it is dense 1.5-entmax attention (train the model this way). With one, each forward predicts
/// Ĝ from q and k — projected to r dimensions by <see cref="Projection"/>, a registered module that moves with the model
/// — and runs <see cref="RoutedEntmax"/> over Ĝ only. To compare methods on one trained model, build a copy per method
/// with <see cref="TransformerModels.WithAttention"/>; <c>onRouted</c> receives each routed forward's pair counts.
/// </summary>
public sealed class SparsefinderAttention : nn.Module, IAttention
{
    private readonly SparsefinderProjection? projection;
    private readonly Action<GraphCounts>? onRouted;

    /// <param name="predictor">Ĝ's predictor; null: dense entmax-1.5 attention</param>
    /// <param name="projection">Sparsefinder's learned W_Q, W_K applied to q and k before <paramref name="predictor"/>; null: raw q, k</param>
    /// <param name="onRouted">receives (valid pairs, predicted pairs) of every routed forward, e.g. to measure realised sparsity</param>
    public SparsefinderAttention(IGraphPredictor? predictor = null, SparsefinderProjection? projection = null, Action<GraphCounts>? onRouted = null)
        : base(nameof(SparsefinderAttention))
    {
        if (projection is not null && predictor is null)
            throw new ArgumentException("projection is set but predictor is null; a projection only feeds a predictor (dense attention uses raw q, k).", nameof(projection));
        Predictor = predictor;
        this.projection = projection;
        this.onRouted = onRouted;
        RegisterComponents();
    }

    public IGraphPredictor? Predictor { get; }
    public SparsefinderProjection? Projection => projection;
    public bool ProvidesProbabilities => true;

    public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
    {
        var (batch, heads, lq, lk) = ScaledDotProductAttention.Check(q, k, v);
        if (Predictor is null)
        {
            var dense = ScaledDotProductAttention.Naive(q, k, v, mask, Normalizer.Entmax15);
            if (withProbabilities) return dense;
            dense.Probabilities!.Dispose();
            return dense with { Probabilities = null };
        }
        using var scope = NewDisposeScope();
        RoutedLayout layout;
        using (no_grad())
        {
            var valid = AttentionGraph.Valid(mask, batch, heads, lq, lk, q.device);
            var (qp, kp) = projection?.call(q.detach(), k.detach()) ?? (q.detach(), k.detach());
            var graph = Predictor.Predict(qp, kp, valid);
            onRouted?.Invoke(GraphCounts.Zero with { Valid = valid.sum().item<long>(), Predicted = graph.sum().item<long>() });
            layout = RoutedLayout.FromGraph(graph);
        }
        if (!withProbabilities) return new(RoutedEntmax.Attend(q, k, v, layout).MoveToOuterDisposeScope());
        var (output, p) = RoutedEntmax.AttendWithProbabilities(q, k, v, layout);
        return new(output.MoveToOuterDisposeScope(), p.MoveToOuterDisposeScope());
    }

    public override string ToString() => Predictor is null ? "entmax15 attention" : $"routed entmax15 ({Predictor.Name}{(projection is null ? "" : ", projected")})";
}

/// <summary>A core that hands every call's q, k and mask to an observer before attending with the core it wraps.</summary>
internal sealed class ObservedAttention(IAttention inner, Action<Tensor, Tensor, AttentionMask?> observe) : IAttention
{
    public bool ProvidesProbabilities => inner.ProvidesProbabilities;

    public AttentionResult Forward(Tensor q, Tensor k, Tensor v, AttentionMask? mask = null, bool withProbabilities = false)
    {
        observe(q, k, mask);
        return inner.Forward(q, k, v, mask, withProbabilities);
    }

    public override string ToString() => inner.ToString() ?? nameof(ObservedAttention);
}

/// <summary>One layer's extracted attention: what the projections train on and the predictors are scored against.</summary>
/// <param name="Queries">(N, H, L, d)</param>
/// <param name="Keys">(N, H, L, d)</param>
/// <param name="Gold">bool (N, H, L, L): entmax's support</param>
/// <param name="Valid">bool (N, H, L, L): pairs the mask allows</param>
/// <param name="Probabilities">(N, H, L, L): the head's entmax weights, for mass-weighted recall; null when not kept</param>
public sealed record LayerAttention(Tensor Queries, Tensor Keys, Tensor Gold, Tensor Valid, Tensor? Probabilities = null)
{
    public long Count => Queries.shape[0];

    /// <summary>Sequences [start, end).</summary>
    public LayerAttention Slice(long start, long end) => new(Queries.narrow(0, start, end - start), Keys.narrow(0, start, end - start),
        Gold.narrow(0, start, end - start), Valid.narrow(0, start, end - start), Probabilities?.narrow(0, start, end - start));
}

/// <summary>Settings of <see cref="Sparsefinder.TrainProjections"/>; defaults follow the paper.</summary>
public sealed record ProjectionTrainingOptions
{
    public int Rank { get; init; } = 4;
    public double Margin { get; init; } = 1.0;
    public double LearningRate { get; init; } = 1e-3;
    public double ClipNorm { get; init; } = 1.0;
    public int Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 8;
    public long Seed { get; init; }
    /// <summary>One matrix for queries and keys (the official code's <c>--share-projectors</c>); false: W_Q and W_K apart.</summary>
    public bool Shared { get; init; }
    /// <summary>The official code's loss: one hinge per query over the sums of its pairs' distances (see <see cref="SparsefinderProjection.MarginLoss"/>).</summary>
    public bool PerQueryLoss { get; init; }
    /// <summary>Where progress goes (the opening line, then every <see cref="LogEvery"/> steps and the last); null: nowhere.</summary>
    public IProgress<ProgressReport>? Progress { get; init; } = LineProgress.Console;
    public int LogEvery { get; init; } = 50;

    /// <summary>
    /// The official code's README configuration (deep-spin/sparsefinder, <c>quantization.py</c>): r = 4 shared between
    /// queries and keys, margin 1, the per-query hinge, Adam at 10⁻³, batch 32, 3 epochs, gradients clipped at 1.
    /// </summary>
    public static ProjectionTrainingOptions OfficialCode { get; } = new()
    {
        Rank = 4, Margin = 1.0, LearningRate = 1e-3, ClipNorm = 1.0, Epochs = 3, BatchSize = 32, Shared = true, PerQueryLoss = true,
    };
}

/// <summary>Learned projections per layer and the mean margin loss (over layers) after each step.</summary>
public sealed record ProjectionTrainingResult(IReadOnlyList<SparsefinderProjection> Projections, IReadOnlyList<double> Losses);

/// <summary>The Sparsefinder pipeline: extract a frozen entmax model's attention, learn projections, score predictors.</summary>
public static class Sparsefinder
{
    /// <summary>
    /// Runs the frozen dense-entmax <paramref name="model"/> over <paramref name="inputs"/> (N, …) in batches and returns,
    /// per layer, q, k, the gold graph (entmax's support) and the valid pairs. The model is not changed: a copy whose
    /// cores also report q and k does the work. <paramref name="withProbabilities"/> also keeps the entmax weights
    /// (4 bytes per pair per head), which mass-weighted recall needs.
    /// </summary>
    public static LayerAttention[] Extract(TransformerModel model, Tensor inputs, int batchSize = 16, bool withProbabilities = false)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize = {batchSize}; expected ≥ 1.");
        int layers = model.Config.Layers;
        var cores = Enumerable.Range(0, layers).Select(model.Config.AttentionFor).ToArray();
        if (cores.Any(c => c is SparsefinderAttention { Predictor: not null } || !c.ProvidesProbabilities))
            throw new ArgumentException("Extract needs dense attention that forms its probabilities (SparsefinderAttention without a predictor).", nameof(model));
        var parts = Enumerable.Range(0, layers).Select(_ => new List<(Tensor, Tensor, Tensor, Tensor, Tensor?)>()).ToArray();
        var seen = new (Tensor Q, Tensor K, Tensor Valid)[layers];
        void Observe(int layer, Tensor q, Tensor k, AttentionMask? mask) =>           // runs inside the layer's own dispose scope
            seen[layer] = (q.detach().clone().DetachFromDisposeScope(), k.detach().clone().DetachFromDisposeScope(),
                           AttentionGraph.Valid(mask, q.shape[0], q.shape[1], q.shape[2], k.shape[2], q.device).DetachFromDisposeScope());
        using var probe = model.WithAttention(l => new ObservedAttention(cores[l], (q, k, mask) => Observe(l, q, k, mask)));
        probe.eval();
        using var _ = no_grad();
        for (long start = 0; start < inputs.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var (_, probabilities) = probe.Forward(inputs.narrow(0, start, Math.Min(inputs.shape[0], start + batchSize) - start), withProbabilities: true);
            for (int layer = 0; layer < layers; layer++)
                parts[layer].Add((seen[layer].Q, seen[layer].K, AttentionGraph.Gold(probabilities![layer]).MoveToOuterDisposeScope(), seen[layer].Valid,
                                  withProbabilities ? probabilities[layer].MoveToOuterDisposeScope() : null));
        }
        static Tensor Cat(IEnumerable<Tensor> parts) => cat(parts.ToList(), 0);
        return parts.Select(list => new LayerAttention(Cat(list.Select(t => t.Item1)), Cat(list.Select(t => t.Item2)), Cat(list.Select(t => t.Item3)),
                                                       Cat(list.Select(t => t.Item4)), withProbabilities ? Cat(list.Select(t => t.Item5!)) : null)).ToArray();
    }

    /// <summary>
    /// Trains one <see cref="SparsefinderProjection"/> per layer with the margin loss: Adam, gradient clipping per layer,
    /// <see cref="ProjectionTrainingOptions.Epochs"/> seeded passes over the extracted sequences, progress shown.
    /// </summary>
    public static ProjectionTrainingResult TrainProjections(IReadOnlyList<LayerAttention> layers, ProjectionTrainingOptions options)
    {
        if (layers.Count == 0) throw new ArgumentException("layers is empty; expected one LayerAttention per layer.", nameof(layers));
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, $"options.Epochs = {options.Epochs}; expected ≥ 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, $"options.BatchSize = {options.BatchSize}; expected ≥ 1.");
        var first = layers[0];
        var projections = layers.Select((l, i) => new SparsefinderProjection((int)l.Queries.shape[1], (int)l.Queries.shape[3], options.Rank, options.Seed + i, l.Queries.dtype, options.Shared)).ToArray();
        foreach (var p in projections) p.to(first.Queries.device);
        var optimizers = projections.Select(p => AdamW.Adam(p.parameters(), options.LearningRate)).ToArray();
        int count = (int)first.Count, batch = Math.Min(options.BatchSize, count), perEpoch = count / batch, total = perEpoch * options.Epochs;
        var losses = new List<double>();
        using var order = Batches.Shuffled(count, batch, options.Seed).GetEnumerator();
        TrainingProgress.Run("projections", total, options.Progress, options.LogEvery, report =>
        {
            report(0, $"{layers.Count} layers × {first.Queries.shape[1]} heads, r = {options.Rank}, {count} sequences, {total} steps");
            for (int step = 1; step <= total; step++)
            {
                order.MoveNext();
                var index = tensor(order.Current, device: first.Queries.device);
                double sum = 0;
                for (int layer = 0; layer < layers.Count; layer++)
                {
                    using var scope = NewDisposeScope();
                    var data = layers[layer];
                    optimizers[layer].ZeroGrad();
                    var (qp, kp) = projections[layer].call(data.Queries.index_select(0, index), data.Keys.index_select(0, index));
                    var loss = SparsefinderProjection.MarginLoss(qp, kp, data.Gold.index_select(0, index), data.Valid.index_select(0, index),
                                                                 options.Margin, options.Seed * 1_000_003 + step, options.PerQueryLoss);
                    if (loss.requires_grad)
                    {
                        loss.backward();
                        nn.utils.clip_grad_norm_(projections[layer].parameters(), options.ClipNorm);
                        optimizers[layer].Step();
                    }
                    sum += loss.to(ScalarType.Float64).item<double>();
                }
                losses.Add(sum / layers.Count);
                report(step, $"margin loss {losses[^1]:F4}");
            }
        });
        foreach (var o in optimizers) o.Dispose();
        return new ProjectionTrainingResult(projections, losses);
    }

    /// <summary>q′, k′ of a layer's sequences under a projection (no gradient); raw q, k when it is null.</summary>
    public static (Tensor Q, Tensor K) Projected(LayerAttention data, SparsefinderProjection? projection)
    {
        if (projection is null) return (data.Queries, data.Keys);
        using var _ = no_grad();
        return projection.call(data.Queries, data.Keys);
    }

    /// <summary>
    /// Scores one method on every layer: <paramref name="predictorFor"/>(layer) builds Ĝ from that layer's q, k, projected
    /// by <paramref name="projections"/>[layer] when given. Counts per layer and head.
    /// </summary>
    public static GraphCounts[][] ScoreLayers(IReadOnlyList<LayerAttention> layers, Func<int, IGraphPredictor> predictorFor,
                                              IReadOnlyList<SparsefinderProjection>? projections = null, int batchSize = 16)
    {
        var result = new GraphCounts[layers.Count][];
        for (int layer = 0; layer < layers.Count; layer++)
        {
            using var scope = NewDisposeScope();
            var (q, k) = Projected(layers[layer], projections?[layer]);
            result[layer] = Score(predictorFor(layer), q, k, layers[layer], batchSize);
        }
        return result;
    }

    /// <summary>
    /// Distance thresholds t such that a share <paramref name="pairFractions"/>[i] of the layer's valid pairs have
    /// ‖q′ − k′‖ &lt; t (quantiles over at most 2²⁰ sampled pairs): a scale-free sweep for the distance predictor.
    /// </summary>
    public static double[] DistanceThresholds(LayerAttention data, SparsefinderProjection? projection, IReadOnlyList<double> pairFractions, long seed = 0)
    {
        if (pairFractions.Any(f => !(f > 0 && f < 1)))
            throw new ArgumentOutOfRangeException(nameof(pairFractions), $"pairFractions = [{string.Join(", ", pairFractions)}]; expected values in (0, 1).");
        using var scope = NewDisposeScope();
        var (q, k) = Projected(data, projection);
        var distances = GraphPredictors.SquaredDistances(q, k).masked_select(data.Valid).sqrt().to(ScalarType.Float64);
        if (distances.numel() > 1 << 20)
            distances = distances.index_select(0, randperm(distances.numel(), generator: new Generator((ulong)seed, device("cpu")))[..(1 << 20)].to(distances.device));
        return distances.quantile(tensor(pairFractions.ToArray(), ScalarType.Float64, distances.device)).cpu().data<double>().ToArray();
    }

    /// <summary>
    /// A causal graph (1, H, L, L) for timing routed attention: each query keeps a seeded random ⌈(1 − s)·L/2⌉ of its
    /// valid keys (all of them when it has fewer), so the share of causal pairs kept is about 1 − s.
    /// </summary>
    public static Tensor RandomCausalGraph(long length, int heads, double sparsity, long seed = 0, Device? on = null)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"length = {length}; expected ≥ 1.");
        if (!(sparsity >= 0 && sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, $"sparsity = {sparsity}; expected 0 ≤ s < 1.");
        using var scope = NewDisposeScope();
        int keep = (int)Math.Min(length, Math.Ceiling((1 - sparsity) * length / 2));
        var valid = AttentionGraph.Valid(AttentionMask.CausalOnly, 1, heads, length, length, on ?? CPU);
        var noise = rand(new[] { 1L, heads, length, length }, generator: new Generator((ulong)seed, device("cpu"))).to(valid.device).masked_fill(valid.logical_not(), Scalars.Of(-1));
        var chosen = noise.topk(keep, dim: -1).indexes;
        var graph = zeros_like(valid).scatter_(-1, chosen, ones_like(chosen, ScalarType.Bool)).logical_and(valid);
        return graph.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scores a predictor on a layer: Ĝ from <paramref name="q"/>, <paramref name="k"/> (projected or raw, (N, H, L, r))
    /// against the layer's gold graph, in batches; counts per head.
    /// </summary>
    public static GraphCounts[] Score(IGraphPredictor predictor, Tensor q, Tensor k, LayerAttention data, int batchSize = 16)
    {
        GraphCounts[]? total = null;
        for (long start = 0; start < data.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(data.Count, start + batchSize);
            var part = data.Slice(start, end);
            var predicted = predictor.Predict(q.narrow(0, start, end - start), k.narrow(0, start, end - start), part.Valid);
            var counts = GraphCounts.PerHead(predicted, part.Gold, part.Valid, part.Probabilities);
            total = total is null ? counts : total.Zip(counts, (a, b) => a + b).ToArray();
        }
        return total ?? throw new ArgumentException("data holds no sequences.", nameof(data));
    }
}
