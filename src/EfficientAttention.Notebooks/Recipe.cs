using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using EfficientAttention;
using TorchSharp;

namespace EfficientAttention.Notebooks;

/// <summary>The data a recipe trains on and the held-out split its metric is measured on.</summary>
public sealed record RecipeData(string Dataset, string TrainSplit, TensorDataset Train, string HeldOutSplit, TensorDataset HeldOut);

/// <summary>A trained model with the record of how it was made.</summary>
public sealed record TrainedModel(TransformerModel Model, TrainingManifest Manifest, TrainingHistory? History = null);

/// <summary>
/// One way to train one model: architecture, data, optimiser settings and the held-out metric, under a name such as
/// <c>reuse-vit</c> / <c>baseline</c>. The notebooks load what a recipe trained (<see cref="Load"/>) and retrain it on
/// request (<see cref="Train"/>); <c>src/Retrain</c> runs the same code from the command line. A run is named
/// <c>&lt;recipe&gt;-&lt;variant&gt;-s&lt;seed&gt;</c>.
/// </summary>
public sealed record Recipe
{
    public required string Name { get; init; }
    public required string Variant { get; init; }
    /// <summary>What the model does, in words ("Fashion-MNIST classification").</summary>
    public required string Task { get; init; }
    /// <summary>The held-out metric's name ("test accuracy", "validation bits per character").</summary>
    public required string Metric { get; init; }
    /// <summary>Keep the weights (a model a notebook looks into); false: a sweep run that records only its numbers.</summary>
    public required bool KeepWeights { get; init; }
    public required Func<long, TransformerModel> Build { get; init; }
    public required Func<RecipeData> Data { get; init; }
    public required TrainerOptions Options { get; init; }
    public required Func<Evaluation, double> Score { get; init; }
    /// <summary>Settings beyond the model's config and the optimiser's that shape the weights (patch size, data variant …).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
    /// <summary>The seeds this recipe is trained with (<see cref="RecipeCatalog.Seeds"/> unless a recipe needs fewer).</summary>
    public IReadOnlyList<long> Seeds { get; init; } = RecipeCatalog.Seeds;
    /// <summary>
    /// Record a training curve in the manifest: the mean training loss every <see cref="TrainerOptions.LogEvery"/> steps and
    /// the held-out metric every <see cref="TrainerOptions.EvalEvery"/> steps (on the first <see cref="TrainerOptions.EvalExamples"/>
    /// held-out examples; the final metric always uses all of them).
    /// </summary>
    public bool TrackCurve { get; init; }
    /// <summary>Where records and weights live; null: <see cref="Checkpoints.DefaultDirectory"/>.</summary>
    public string? Directory { get; init; }

    public string RunName(long seed) => $"{Name}-{Variant}-s{seed}";

    /// <summary>The command that retrains this run.</summary>
    public string Command(long seed) => $"dotnet run -c Release --project src/Retrain -- {RunName(seed)}";

    /// <summary>Everything that shapes the weights, as the manifest records it.</summary>
    public SortedDictionary<string, string> Config(TransformerModel model)
    {
        var c = model.Config;
        string S(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        var config = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["model"] = model.GetType().Name, ["layers"] = $"{c.Layers}", ["heads"] = $"{c.Heads}", ["model_dim"] = $"{c.ModelDim}",
            ["mlp_dim"] = $"{c.MlpDim}", ["dropout"] = S(c.Dropout), ["max_length"] = $"{c.MaxLength}",
            ["reused_heads"] = string.Join(",", Enumerable.Range(0, c.Layers).Select(l => c.ReusedHeadsAt?.Invoke(l) ?? 0)),
            ["uniform_reused_maps"] = c.UniformReusedMaps ? "true" : "false",
            ["steps"] = $"{Options.Steps}", ["batch_size"] = $"{Options.BatchSize}", ["learning_rate"] = S(Options.LearningRate),
            ["warmup_steps"] = $"{Options.WarmupSteps}", ["weight_decay"] = S(Options.WeightDecay), ["final_lr_fraction"] = S(Options.FinalLearningRateFraction),
            ["clip_norm"] = S(Options.ClipNorm),
        };
        foreach (var (key, value) in Extra) config[key] = value;
        return config;
    }

    /// <summary>
    /// The trained model of <paramref name="seed"/>: loaded from its checkpoint, or trained again (and the checkpoint
    /// replaced) when <paramref name="retrain"/>.
    /// </summary>
    public TrainedModel Get(long seed, bool retrain, IProgress<ProgressReport>? progress = null) =>
        retrain ? Train(seed, progress) : Load(seed);

    /// <summary>Loads the checkpoint of <paramref name="seed"/> after checking its hash and that its config is this recipe's.</summary>
    public TrainedModel Load(long seed)
    {
        if (!KeepWeights) throw new InvalidOperationException($"{Name}/{Variant} keeps no weights; read its numbers with Record(seed).");
        var manifest = Checkpoints.ReadManifest(RunName(seed), Directory);
        var model = Build(seed);
        CheckConfig(manifest, model, seed);
        Checkpoints.LoadWeights(manifest, model, Directory);
        model.eval();
        return new TrainedModel(model, manifest);
    }

    /// <summary>The training record of <paramref name="seed"/> (checked as <see cref="Record"/>), or null where the run was never trained.</summary>
    public TrainingManifest? TryRecord(long seed) => Checkpoints.Exists(RunName(seed), Directory) ? Record(seed) : null;

    /// <summary>The training record of <paramref name="seed"/>, after checking that its config is this recipe's.</summary>
    public TrainingManifest Record(long seed)
    {
        var manifest = Checkpoints.ReadManifest(RunName(seed), Directory);
        using var probe = Build(seed);
        CheckConfig(manifest, probe, seed);
        return manifest;
    }

    private void CheckConfig(TrainingManifest manifest, TransformerModel model, long seed)
    {
        var expected = Config(model);
        var differences = expected.Keys.Union(manifest.Config.Keys)
            .Where(k => expected.GetValueOrDefault(k) != manifest.Config.GetValueOrDefault(k))
            .Select(k => $"{k}: recorded {manifest.Config.GetValueOrDefault(k) ?? "(none)"}, recipe {expected.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
        if (differences.Count > 0)
            throw new InvalidDataException($"{manifest.Name} was trained with a different config than the recipe asks for — {string.Join("; ", differences)}. Retrain it: {Command(seed)}");
    }

    /// <summary>
    /// Trains the run of <paramref name="seed"/> and, when <paramref name="save"/>, writes its record (and float16
    /// weights) atomically. <paramref name="steps"/> shortens the run (quick mode: nothing is saved then).
    /// </summary>
    public TrainedModel Train(long seed, IProgress<ProgressReport>? progress = null, int? steps = null, bool save = true)
    {
        if (steps is not null && save) throw new ArgumentException($"steps = {steps}: a shortened run is never saved as the checkpoint; pass save: false.", nameof(steps));
        var data = Data();
        var model = Build(seed);
        var options = Options with { Seed = seed, Steps = steps ?? Options.Steps, Progress = progress, Description = RunName(seed) };
        var clock = Stopwatch.StartNew();
        TrainingHistory history;
        using (var trainer = new Trainer(model, options)) history = trainer.Fit(data.Train, TrackCurve ? data.HeldOut : null);
        if (KeepWeights) Checkpoints.RoundToHalf(model);                              // measure what the checkpoint will hold
        var evaluation = Metrics.Evaluate(model, data.HeldOut, 0, options.EvalBatchSize);
        clock.Stop();
        model.eval();
        var manifest = new TrainingManifest
        {
            Name = RunName(seed), Recipe = Name, Variant = Variant, Seed = seed, Model = model.Description, Config = Config(model),
            Dataset = data.Dataset, TrainSplit = data.TrainSplit, HeldOutSplit = data.HeldOutSplit, Metric = Metric, Value = Score(evaluation),
            HeldOutExamples = data.HeldOut.Count, Steps = options.Steps, WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Commit = BuildCommit, Command = Command(seed), Created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Curve = TrackCurve ? CurveOf(history, options.LogEvery) : null,
        };
        if (save) manifest = Checkpoints.Write(manifest, KeepWeights ? model : null, Directory);
        return new TrainedModel(model, manifest, history);
    }

    /// <summary>Mean training loss per window of <paramref name="every"/> steps, with the held-out metric of evaluations in it.</summary>
    private List<CurvePoint> CurveOf(TrainingHistory history, int every)
    {
        every = Math.Max(1, every);
        var heldOut = history.Evaluations.ToDictionary(e => e.Step, e => Score(e.Validation));
        return history.Train.GroupBy(p => (p.Step + every - 1) / every)
            .Select(g => { int step = g.Max(p => p.Step); return new CurvePoint(step, Math.Round(g.Average(p => p.Loss), 5), heldOut.TryGetValue(step, out var h) ? Math.Round(h, 5) : null); })
            .ToList();
    }

    /// <summary>The held-out metric of <paramref name="model"/> measured as this recipe measures it.</summary>
    public double Evaluate(TransformerModel model) => Score(Metrics.Evaluate(model, Data().HeldOut, 0, Options.EvalBatchSize));

    /// <summary>The commit this code was built from (stamped into the assembly by the build), else "unknown".</summary>
    public static string BuildCommit
    {
        get
        {
            var version = typeof(Recipe).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
            int plus = version.IndexOf('+');
            return plus >= 0 && plus + 1 < version.Length ? version[(plus + 1)..] : "unknown";
        }
    }
}
