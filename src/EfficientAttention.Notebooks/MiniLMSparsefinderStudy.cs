using System.Diagnostics;
using EfficientAttention.Pretrained;
using static TorchSharp.torch;

namespace EfficientAttention.Notebooks;

/// <summary>What the Sparsefinder study on a fine-tuned entmax MiniLM runs (its record is recomputed when this changes).</summary>
public sealed record MiniLMSparsefinderConfig
{
    /// <summary>Training windows the projections and centroids are fitted on (spread over the first masking of the training split).</summary>
    public int FitWindows { get; init; } = 256;
    /// <summary>Of those, the windows scored as "fitting" (the first ones), and the held-out windows scored.</summary>
    public int ScoredWindows { get; init; } = 32;
    public int[] Seeds { get; init; } = [0, 1, 2];
    public int[] Clusters { get; init; } = [4, 8, 16, 32];
    /// <summary>
    /// Half-width w of the window |i − j| ≤ w added to the learned graphs. The authors' 11 keys (w = 5) are 2 % of their
    /// 512-token rows; of our 128-token rows they would be 8.6 % — with the CLS/SEP rows and columns, 88 % sparsity before
    /// any key is predicted — so the window is scaled to the same share, 3 keys (w = 1). The authors' literal setting is
    /// scored too (<see cref="AuthorsWindow"/>, official projections, top-2 clusters).
    /// </summary>
    public int Window { get; init; } = 1;
    public int AuthorsWindow { get; init; } = 5;
    public int[] PatternWindows { get; init; } = [1, 2, 4, 6, 8, 12, 16];
    public int EvalWindows { get; init; } = 32;
    /// <summary>Steps of masked-LM fine-tuning with the routed graph in place (projections frozen: the authors' <c>all_but_projections</c>), and their peak learning rate.</summary>
    public int FineTuneSteps { get; init; } = 20;
    public double FineTuneLearningRate { get; init; } = 1e-4;
    /// <summary>The routed settings fine-tuned: for each of these families, its setting with the least held-out sparsity at or above this.</summary>
    public double FineTuneSparsity { get; init; } = 0.9;
    /// <summary>The (projections, family) pairs fine-tuned after routing.</summary>
    public (string Projections, string Family)[] FineTuneFamilies { get; init; } = [("official", "k-means"), ("pattern", "window + CLS/SEP")];

    /// <summary>
    /// A small study (48 fitting windows, 8 held out, two projection seeds, c ∈ {8, 16}): what notebook 03 keeps for the
    /// contrast model whose calibration had no sparsity floor.
    /// </summary>
    public static MiniLMSparsefinderConfig Small { get; } = new() { FitWindows = 48, ScoredWindows = 8, Seeds = [0, 1], Clusters = [8, 16], PatternWindows = [1, 4, 6, 12], EvalWindows = 8, FineTuneSteps = 2 };

    public SortedDictionary<string, string> Describe(string run) => new()
    {
        ["model"] = run, ["fit_windows"] = $"{FitWindows}", ["scored_windows"] = $"{ScoredWindows}", ["seeds"] = string.Join(",", Seeds),
        ["clusters"] = string.Join(",", Clusters), ["window"] = $"{Window}", ["authors_window"] = $"{AuthorsWindow}", ["pattern_windows"] = string.Join(",", PatternWindows), ["eval_windows"] = $"{EvalWindows}", ["fine_tune"] = $"{FineTuneSteps} steps lr {FineTuneLearningRate} at sparsity >= {FineTuneSparsity}: {string.Join(", ", FineTuneFamilies.Select(f => $"{f.Projections} {f.Family}"))}",
        ["official"] = Describe(ProjectionTrainingOptions.OfficialCode), ["ours"] = Describe(Ours),
    };

    /// <summary>Notebook 03's projections on the character models: W_Q, W_K apart, one hinge per pair, Adam at 10⁻², batch 8, 6 epochs.</summary>
    public static ProjectionTrainingOptions Ours { get; } = new() { Rank = 4, Margin = 1.0, LearningRate = 1e-2, ClipNorm = 1.0, Epochs = 6, BatchSize = 8 };

    private static string Describe(ProjectionTrainingOptions o) =>
        $"r={o.Rank} margin={o.Margin} lr={o.LearningRate} batch={o.BatchSize} epochs={o.Epochs} shared={o.Shared} per_query={o.PerQueryLoss}";
}

/// <summary>One predictor setting scored on one split: pooled over layers, heads and queries.</summary>
public sealed record GraphPoint(string Projections, int Seed, string Family, string Setting, string Split, double Sparsity, double Recall, double ExactFraction, double GoldSparsity);

/// <summary>
/// Masked-LM quality of the model with every head routed over one predictor's graph (held-out windows): frozen, or after
/// <see cref="MiniLMSparsefinderConfig.FineTuneSteps"/> steps of fine-tuning with the graph in place (<see cref="FineTuned"/>;
/// the dense model gets the same steps, family "dense").
/// </summary>
public sealed record RoutedPoint(string Projections, int Seed, string Family, string Setting, double Sparsity, double Perplexity, double Accuracy, bool FineTuned = false);

/// <summary>What the study found on one fine-tuned model.</summary>
public sealed record MiniLMSparsefinderResult(double[][] GoldSparsity, double[] OracleRecall, IReadOnlyList<GraphPoint> Points, IReadOnlyList<RoutedPoint> Routed,
                                             double DensePerplexity, double DenseAccuracy, IReadOnlyDictionary<string, double[]> FinalLoss);

/// <summary>
/// Sparsefinder on a MiniLM fine-tuned with 1.5-entmax (<see cref="MiniLMFineTuning"/>): extract every layer's q, k and
/// gold graph on masked-LM windows, train projections as the official code does and as notebook 03 does (three seeds
/// each), score k-means and distance predictors (plus the authors' window and CLS/SEP tokens) against raw q, k and fixed
/// patterns on the fitting and on held-out windows, and measure masked-LM quality routed over the graphs.
/// </summary>
public static class MiniLMSparsefinderStudy
{
    public static readonly double[] Oracles = [0.8, 0.9, 0.95];

    /// <summary>Layer by layer: q, k, gold and valid pairs (all real here: windows have no padding) of <paramref name="inputs"/>.</summary>
    public static LayerAttention[] Extract(BertEncoder encoder, Tensor inputs, int batchSize = 16)
    {
        var parts = new List<IReadOnlyList<(Tensor Queries, Tensor Keys, Tensor Probabilities)>>();
        for (long start = 0; start < inputs.shape[0]; start += batchSize)
        {
            using var ids = inputs.narrow(0, start, Math.Min(batchSize, inputs.shape[0] - start));
            using var real = ones_like(ids, ScalarType.Bool);
            parts.Add(encoder.QueriesAndKeys(ids, real));
        }
        var layers = new LayerAttention[encoder.Shape.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            var q = cat(parts.Select(p => p[l].Queries).ToList(), 0);
            var k = cat(parts.Select(p => p[l].Keys).ToList(), 0);
            var gold = cat(parts.Select(p => AttentionGraph.Gold(p[l].Probabilities)).ToList(), 0);
            layers[l] = new LayerAttention(q, k, gold, ones_like(gold));
        }
        foreach (var part in parts) foreach (var (a, b, c) in part) { a.Dispose(); b.Dispose(); c.Dispose(); }
        return layers;
    }

    /// <summary>
    /// <paramref name="metric"/> (recall by default) of one family at <paramref name="sparsity"/> on one split, read off each
    /// projection seed's sweep (<see cref="SparsityCurve.At(IEnumerable{ValueTuple{double, double}}, double)"/>) and
    /// averaged over the seeds: one number per trained model. NaN where a sweep does not reach that sparsity.
    /// </summary>
    public static double At(MiniLMSparsefinderResult result, string projections, string family, string split, double sparsity, Func<GraphPoint, double>? metric = null)
    {
        metric ??= p => p.Recall;
        var seeds = result.Points.Where(p => p.Projections == projections && p.Family == family && p.Split == split).GroupBy(p => p.Seed).ToList();
        if (seeds.Count == 0) throw new ArgumentException($"projections = {projections}, family = {family}, split = {split}: no such points in the record.", nameof(family));
        return seeds.Average(g => SparsityCurve.At(g.Select(p => (p.Sparsity, metric(p))), sparsity));
    }

    /// <summary>
    /// Held-out cross-entropy (nats) of the frozen model routed by one family at exactly <paramref name="sparsity"/>: linear
    /// in realised sparsity between the two settings that bracket it (projection seed 0); NaN when none brackets it.
    /// </summary>
    public static double CrossEntropyAt(MiniLMSparsefinderResult result, string projections, string family, double sparsity)
    {
        var sweep = result.Routed.Where(p => !p.FineTuned && p.Projections == projections && p.Family == family && p.Seed == 0).OrderBy(p => p.Sparsity).ToList();
        var below = sweep.LastOrDefault(p => p.Sparsity <= sparsity);
        var above = sweep.FirstOrDefault(p => p.Sparsity > sparsity);
        if (below is null || above is null) return double.NaN;
        double t = (sparsity - below.Sparsity) / (above.Sparsity - below.Sparsity);
        return Math.Log(below.Perplexity) + t * (Math.Log(above.Perplexity) - Math.Log(below.Perplexity));
    }

    /// <summary>
    /// Frees the native memory of tensors nobody holds any more (the scoring loops make many; their finalizers free them,
    /// but the managed heap is too small to trigger a collection before two studies fill 24 GB).
    /// </summary>
    private static void Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>The study's record name for a fine-tuned run.</summary>
    public static string RecordName(string run) => $"sparsefinder-{run}";

    /// <summary>The command that recomputes the record of <paramref name="run"/>.</summary>
    public static string Command(string run, bool small = false) => $"dotnet run -c Release --project src/Retrain -- --threads 1 {(small ? "sparsefinder-small-" + run : RecordName(run))}";

    /// <summary>The stored study of <paramref name="run"/> with the default config, or null when there is none (nothing is computed: the weights may not be here).</summary>
    public static AnalysisRecord<MiniLMSparsefinderResult>? Stored(string run, MiniLMSparsefinderConfig? config = null) =>
        Records.TryLoad<MiniLMSparsefinderResult>(RecordName(run), (config ?? new MiniLMSparsefinderConfig()).Describe(run));

    /// <summary>
    /// The stored study of fine-tuned run <paramref name="run"/> (e.g. <c>minilm-mlm-entmax15-cal-e6-s0</c>), or — with
    /// <paramref name="recompute"/> or a changed config — computed from the run's local weights and stored.
    /// </summary>
    public static AnalysisRecord<MiniLMSparsefinderResult> Record(string run, MiniLMSparsefinderConfig? config = null, bool recompute = false, Action<string>? progress = null)
    {
        config ??= new MiniLMSparsefinderConfig();
        var parsed = MiniLMFineTuning.Parse(run) ?? throw new ArgumentException($"run = {run}; expected a fine-tuning run name such as minilm-mlm-entmax15-cal-e6-s0.", nameof(run));
        if (parsed.Normalizer == "softmax") throw new ArgumentException($"run = {run} has softmax heads; Sparsefinder predicts the support of sparse (entmax) heads.", nameof(run));
        return Records.LoadOrCompute(RecordName(run), config.Describe(run), Command(run, small: ReferenceEquals(config, MiniLMSparsefinderConfig.Small)), () =>
        {
            using var model = MiniLMFineTuning.Load(parsed.Normalizer, parsed.Seed, parsed.Epochs, parsed.Calibrated, calibrationSparsityPercent: parsed.CalibrationSparsityPercent);
            var options = new MiniLMFineTuning.Options(Epochs: 1);
            using var miniLM = MiniLM.Load();
            var (train, heldOut, windows) = MiniLMFineTuning.Data(miniLM, options, parsed.Seed);
            var spread = linspace(0, windows - 1, config.FitWindows).to(ScalarType.Int64);
            var fit = new TensorDataset(train.Inputs.index_select(0, spread), train.Targets.index_select(0, spread));
            var firstMasking = train.Inputs[..windows];
            var trainOnce = new TensorDataset(firstMasking, train.Targets[..windows]);
            BertMaskedLm Reload() => MiniLMFineTuning.Load(parsed.Normalizer, parsed.Seed, parsed.Epochs, parsed.Calibrated, calibrationSparsityPercent: parsed.CalibrationSparsityPercent);
            return Run(model, fit, heldOut, config, Reload, trainOnce, progress);
        }, recompute);
    }

    /// <param name="model">the fine-tuned entmax model (eval mode), frozen throughout</param>
    /// <param name="fitData">masked training windows: the projections' and centroids' data</param>
    /// <param name="heldOut">held-out masked windows (scored and evaluated)</param>
    /// <param name="config">what to run</param>
    /// <param name="reload">a fresh copy of the model, for the fine-tune-after-routing runs; null skips them</param>
    /// <param name="trainData">the masked training windows those runs fine-tune on</param>
    /// <param name="progress">one line per stage</param>
    public static MiniLMSparsefinderResult Run(BertMaskedLm model, TensorDataset fitData, TensorDataset heldOut, MiniLMSparsefinderConfig config,
                                               Func<BertMaskedLm>? reload = null, TensorDataset? trainData = null, Action<string>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        void Say(string what)
        {
            progress?.Invoke($"[{clock.Elapsed.TotalSeconds:F0} s] {what}");
            Release();
        }
        var fit = Extract(model.Encoder, fitData.Inputs[..config.FitWindows]);
        var fitScored = fit.Select(l => l.Slice(0, config.ScoredWindows)).ToArray();
        var held = Extract(model.Encoder, heldOut.Inputs[..config.ScoredWindows]);
        var goldPerHead = held.Select(l => GraphCounts.PerHead(l.Gold, l.Gold, l.Valid).Select(c => c.GoldSparsity).ToArray()).ToArray();
        var heads = held.SelectMany(l => GraphCounts.PerHead(l.Gold, l.Gold, l.Valid)).ToArray();
        var oracle = Oracles.Select(s => heads.Sum(h => Math.Min(h.Gold, (1 - s) * h.Valid)) / heads.Sum(h => (double)h.Gold)).ToArray();
        Say($"extracted {config.FitWindows} fitting and {config.ScoredWindows} held-out windows; gold sparsity {heads.Average(h => h.GoldSparsity):P1}, oracle recall at 90 % {oracle[1]:F3}");

        var points = new List<GraphPoint>();
        var routedMethods = new List<(string Projections, int Seed, string Family, string Setting, Func<int, IGraphPredictor> Predictor, IReadOnlyList<SparsefinderProjection>? Learned)>();
        void Score(string projections, int seed, string family, string setting, Func<int, IGraphPredictor> predictor, IReadOnlyList<SparsefinderProjection>? proj)
        {
            Release();
            foreach (var (split, data) in new[] { ("fit", fitScored), ("held-out", held) })
            {
                var total = Sparsefinder.ScoreLayers(data, predictor, proj).SelectMany(h => h).Aggregate(GraphCounts.Zero, (a, b) => a + b);
                points.Add(new GraphPoint(projections, seed, family, setting, split, total.Sparsity, total.Recall, total.ExactFraction, total.GoldSparsity));
            }
            routedMethods.Add((projections, seed, family, setting, predictor, proj));
        }
        var finalLoss = new Dictionary<string, double[]>();
        foreach (var (name, options) in new[] { ("official", ProjectionTrainingOptions.OfficialCode), ("ours", MiniLMSparsefinderConfig.Ours), ("raw", null) })
            foreach (var seed in config.Seeds)
            {
                IReadOnlyList<SparsefinderProjection>? proj = null;
                if (options is not null)
                {
                    var trained = Sparsefinder.TrainProjections(fit, options with { Seed = seed, Progress = null });
                    proj = trained.Projections;
                    finalLoss[$"{name}-s{seed}"] = [trained.Losses[0], trained.Losses[^1]];
                }
                var pooled = fit.Select((l, i) => Sparsefinder.Projected(l, proj?[i])).ToArray();
                foreach (var c in config.Clusters)
                {
                    var top1 = pooled.Select(p => KMeansPredictor.Fit(p.Q, p.K, c, seed: seed)).ToArray();
                    Score(name, seed, "k-means", $"c={c}", l => new WithWindow(top1[l], config.Window, specialTokens: true), proj);
                    if (c >= 8)
                    {
                        var top2 = top1.Select(p => new KMeansPredictor(p.Centroids, 2, rankAligned: true)).ToArray();
                        Score(name, seed, "k-means top-2", $"c={c}", l => new WithWindow(top2[l], config.Window, specialTokens: true), proj);
                        if (name == "official")
                            Score(name, seed, "k-means top-2, authors' window", $"c={c}", l => new WithWindow(top2[l], config.AuthorsWindow, specialTokens: true), proj);
                    }
                }
                Say($"{name} seed {seed}: k-means scored");
            }
        foreach (var w in config.PatternWindows)
            Score("pattern", 0, "window + CLS/SEP", $"w={w}", _ => new WithWindow(PatternPredictor.SlidingWindow(0), w, specialTokens: true), null);
        foreach (var seed in config.Seeds)
            foreach (var w in config.PatternWindows.Where(w => w <= 12))
                Score("pattern", seed, "bigbird", $"w={w} g=2 r=3", _ => PatternPredictor.BigBird(w, 2, 3, seed), null);
        Say("patterns scored");

        var routed = new List<RoutedPoint>();
        var denseEval = Metrics.Evaluate(model, heldOut, config.EvalWindows, 16);
        foreach (var m in routedMethods.Where(m => m.Seed == 0))
        {
            long valid = 0, predicted = 0;
            for (int l = 0; l < model.Encoder.Shape.Layers; l++)
                model.Encoder.UseAttention(l, new SparsefinderAttention(m.Predictor(l), m.Learned?[l], c => { valid += c.Valid; predicted += c.Predicted; }));
            var evaluation = Metrics.Evaluate(model, heldOut, config.EvalWindows, 16);
            for (int l = 0; l < model.Encoder.Shape.Layers; l++) model.Encoder.UseAttention(l, null);
            routed.Add(new RoutedPoint(m.Projections, m.Seed, m.Family, m.Setting, 1 - (double)predicted / valid, evaluation.Perplexity, evaluation.Accuracy));
            Release();
        }
        Say($"routed: {routed.Count} evaluations");
        if (reload is not null && trainData is not null)
        {
            RoutedPoint Tune(string projections, string family, string setting, Func<int, IGraphPredictor>? predictor, IReadOnlyList<SparsefinderProjection>? proj)
            {
                using var tuned = reload();
                long valid = 0, predicted = 0;
                if (predictor is not null)
                    for (int l = 0; l < tuned.Encoder.Shape.Layers; l++)
                        tuned.Encoder.UseAttention(l, new SparsefinderAttention(predictor(l), proj?[l], c => { valid += c.Valid; predicted += c.Predicted; }));
                tuned.train();
                var options = new TrainerOptions { Steps = config.FineTuneSteps, BatchSize = 32, LearningRate = config.FineTuneLearningRate, WarmupSteps = Math.Max(1, config.FineTuneSteps / 10),
                    EvalEvery = config.FineTuneSteps, EvalExamples = 1, EvalBatchSize = 16, Seed = 0, Progress = null };
                using (var trainer = new Trainer(tuned, options)) trainer.Fit(trainData);
                tuned.eval();
                (valid, predicted) = (0, 0);
                var evaluation = Metrics.Evaluate(tuned, heldOut, config.EvalWindows, 16);
                return new RoutedPoint(projections, 0, family, setting, predictor is null ? 0 : 1 - (double)predicted / valid, evaluation.Perplexity, evaluation.Accuracy, FineTuned: true);
            }
            routed.Add(Tune("dense", "dense", "", null, null));
            foreach (var (projections, family) in config.FineTuneFamilies)
            {
                var chosen = points.Where(p => p.Projections == projections && p.Seed == 0 && p.Family == family && p.Split == "held-out" && p.Sparsity >= config.FineTuneSparsity)
                                   .MinBy(p => p.Sparsity);
                if (chosen is null) continue;
                var method = routedMethods.First(m => m.Projections == projections && m.Seed == 0 && m.Family == family && m.Setting == chosen.Setting);
                routed.Add(Tune(projections, family, chosen.Setting, method.Predictor, method.Learned));
                Say($"fine-tuned with {projections} {family} {chosen.Setting} routed: ppl {routed[^1].Perplexity:F1}");
            }
        }
        return new MiniLMSparsefinderResult(goldPerHead, oracle, points, routed, denseEval.Perplexity, denseEval.Accuracy, finalLoss);
    }
}
