using System.Diagnostics;
using System.Globalization;
using EfficientAttention.Pretrained;
using static TorchSharp.torch;

namespace EfficientAttention.Notebooks;

/// <summary>
/// Sparsefinder's regime on a pretrained model: MiniLM with its softmax replaced (or not, the baseline) by 1.5-entmax,
/// fine-tuned on masked LM over Moby-Dick word pieces (BERT's masking, a fresh MLM head tied to the word embeddings).
/// Windows of 128 pieces ([CLS] 126 pieces [SEP]); the last 10 % of the book is held out with fixed masks; the training
/// windows are masked afresh for each epoch (seeded). Records a manifest per run under <c>notebooks/checkpoints/minilm/</c>;
/// the fine-tuned weights (45 MB in float16 a run) go to <c>notebooks/checkpoints/minilm/local/</c>, which git ignores.
/// </summary>
public static class MiniLMFineTuning
{
    /// <summary>Window length (pieces with [CLS] and [SEP]), epochs, batch, peak learning rate, held-out share, evaluation batch, and a cap on the steps (tests).</summary>
    public sealed record Options(int Length = 128, int Epochs = 3, int BatchSize = 32, double LearningRate = 2e-4, double HeldOutFraction = 0.1, int EvalBatchSize = 16, int? MaxSteps = null, bool Calibrate = false, double? CalibrationSparsity = null);

    /// <summary>How many training windows (unmasked) calibrate the entmax heads' temperatures.</summary>
    public const int CalibrationWindows = 16;

    public static readonly string[] Normalizers = ["softmax", "entmax15"];

    /// <summary>
    /// minilm-mlm-&lt;normalizer&gt;[-cal[NN]][-e&lt;epochs&gt;]-s&lt;seed&gt; (-cal: entmax heads' temperatures calibrated to the
    /// pretrained maps first; -calNN: among temperatures leaving at least NN % of each head's pairs at zero; the epochs
    /// named only where they differ from the default 3).
    /// </summary>
    public static string RunName(string normalizer, long seed, int epochs = 3, bool calibrated = false, int? calibrationSparsityPercent = null) =>
        $"minilm-mlm-{normalizer}{(calibrated ? $"-cal{calibrationSparsityPercent}" : "")}{(epochs == 3 ? "" : $"-e{epochs}")}-s{seed}";

    /// <summary>The run a name stands for (<c>minilm-mlm-entmax15-s0</c>, <c>minilm-mlm-entmax15-cal90-e6-s1</c>), or null when it is not one.</summary>
    public static (string Normalizer, int Epochs, long Seed, bool Calibrated, int? CalibrationSparsityPercent)? Parse(string run)
    {
        var match = System.Text.RegularExpressions.Regex.Match(run, @"^minilm-mlm-(softmax|entmax15)(-cal(\d\d)?)?(?:-e(\d+))?-s(\d+)$");
        if (!match.Success || match.Groups[1].Value == "softmax" && match.Groups[2].Success) return null;
        int epochs = match.Groups[4].Success ? int.Parse(match.Groups[4].Value, CultureInfo.InvariantCulture) : 3;
        int? percent = match.Groups[3].Success ? int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture) : null;
        return (match.Groups[1].Value, epochs, long.Parse(match.Groups[5].Value, CultureInfo.InvariantCulture), match.Groups[2].Success, percent);
    }

    private static int? Percent(double? share) => share is { } s ? (int)Math.Round(100 * s) : null;

    /// <summary>Train and held-out sets: the book's word pieces in windows, split by position (the last tenth held out).</summary>
    public static (TensorDataset Train, TensorDataset HeldOut, int TrainWindows) Data(MiniLM model, Options options, long seed)
    {
        var text = Book();
        using var windows = WordPieceCorpus.Windows(model, WordPieceCorpus.Encode(model, text), options.Length);
        int n = (int)windows.shape[0], held = (int)(n * options.HeldOutFraction);
        var heldOut = WordPieceCorpus.Masked(model, windows[(n - held)..], seed: 1_000_000);            // the same masks for every run
        var epochs = Enumerable.Range(0, options.Epochs).Select(e => WordPieceCorpus.Masked(model, windows[..(n - held)], seed: seed * 1000 + e)).ToList();
        var train = new TensorDataset(cat(epochs.Select(d => d.Inputs).ToList(), 0), cat(epochs.Select(d => d.Targets).ToList(), 0));
        return (train, heldOut, n - held);
    }

    /// <summary>The shipped Moby-Dick text (found above the working directory).</summary>
    private static string Book() => File.ReadAllText(DataPaths.FindUp(CharCorpus.DefaultRelativePath)
        ?? throw new FileNotFoundException($"{CharCorpus.DefaultRelativePath} not found above {Directory.GetCurrentDirectory()}."));

    /// <summary>The fine-tuned run <paramref name="normalizer"/>/<paramref name="seed"/> from its local weights (hash checked), in eval mode.</summary>
    public static BertMaskedLm Load(string normalizer, long seed, int epochs = 3, bool calibrated = false, string? directory = null, int? calibrationSparsityPercent = null)
    {
        directory ??= Path.Combine(Checkpoints.DefaultDirectory, "minilm");
        var manifest = Checkpoints.ReadManifest("local/" + RunName(normalizer, seed, epochs, calibrated, calibrationSparsityPercent), directory);
        var miniLM = MiniLM.Load(normalizer: NormalizerOf(normalizer));
        var model = new BertMaskedLm(miniLM.Encoder, seed);
        Checkpoints.LoadWeights(manifest, model, directory);
        model.eval();
        return model;
    }

    /// <summary>
    /// Per layer and head, the share of attention pairs (real query, real key) that <paramref name="encoder"/> gives
    /// probability exactly 0 on <paramref name="batch"/>: [layer][head].
    /// </summary>
    public static double[][] GoldSparsity(BertEncoder encoder, TokenBatch batch)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var maps = encoder.Forward(batch.Ids, batch.RealTokens, withProbabilities: true).Probabilities!;   // (layers, B, H, L, L)
        var real = batch.RealTokens.to(ScalarType.Float64);
        var pairs = real.unsqueeze(2).mul(real.unsqueeze(1)).unsqueeze(1);                                // (B, 1, L, L)
        var zero = maps.eq(Scalars.Zero).to(ScalarType.Float64).mul(pairs.unsqueeze(0));                   // (layers, B, H, L, L)
        var share = zero.sum(new long[] { 1, 3, 4 }).div(pairs.sum());                                    // (layers, H)
        return Enumerable.Range(0, (int)share.shape[0]).Select(l => share[l].data<double>().ToArray()).ToArray();
    }

    private static Normalizer NormalizerOf(string normalizer) => normalizer switch
    {
        "softmax" => Normalizer.Softmax, "entmax15" => Normalizer.Entmax15,
        _ => throw new ArgumentException($"normalizer = {normalizer}; expected one of {string.Join(", ", Normalizers)}.", nameof(normalizer)),
    };

    /// <summary>Sets each entmax head's temperature so that its map is closest to the pretrained softmax map (<see cref="TemperatureCalibration"/>), on the first training windows.</summary>
    public static TemperatureCalibration.Result Calibrate(MiniLM entmax, Options options)
    {
        using var softmax = MiniLM.Load();
        var text = Book();
        using var windows = WordPieceCorpus.Windows(entmax, WordPieceCorpus.Encode(entmax, text), options.Length);
        using var ids = windows[..CalibrationWindows];
        using var real = ones_like(ids, ScalarType.Bool);
        return TemperatureCalibration.Calibrate(entmax.Encoder, softmax.Encoder, ids, real, minSparsity: options.CalibrationSparsity);
    }

    /// <summary>Fine-tunes one run and writes its manifest (and local weights); returns the manifest.</summary>
    public static TrainingManifest Train(string normalizer, long seed, IProgress<ProgressReport>? progress = null, Options? options = null, string? directory = null)
    {
        options ??= new Options();
        var norm = NormalizerOf(normalizer);
        if (options.Calibrate && norm == Normalizer.Softmax)
            throw new ArgumentException("options.Calibrate = true with softmax: only sparse heads are calibrated to the pretrained maps.", nameof(options));
        var clock = Stopwatch.StartNew();
        using var miniLM = MiniLM.Load(normalizer: norm);
        var calibration = options.Calibrate ? Calibrate(miniLM, options) : null;
        manual_seed(seed);
        var (train, heldOut, trainWindows) = Data(miniLM, options, seed);
        using var model = new BertMaskedLm(miniLM.Encoder, seed);
        int steps = Math.Min(options.Epochs * trainWindows / options.BatchSize, options.MaxSteps ?? int.MaxValue);
        var trainerOptions = new TrainerOptions { Steps = steps, BatchSize = options.BatchSize, LearningRate = options.LearningRate, WarmupSteps = Math.Max(1, steps / 10),
            EvalEvery = Math.Max(1, steps / 4), EvalBatchSize = options.EvalBatchSize, Seed = seed, Progress = progress, LogEvery = 10, Description = RunName(normalizer, seed, options.Epochs, options.Calibrate, Percent(options.CalibrationSparsity)) };
        using (var trainer = new Trainer(model, trainerOptions)) trainer.Fit(train, heldOut);
        Checkpoints.RoundToHalf(model);                                                                     // measure what the weights file holds
        var evaluation = Metrics.Evaluate(model, heldOut, 0, options.EvalBatchSize);
        clock.Stop();
        directory ??= Path.Combine(Checkpoints.DefaultDirectory, "minilm");
        Directory.CreateDirectory(Path.Combine(directory, "local"));
        var manifest = new TrainingManifest
        {
            Name = RunName(normalizer, seed, options.Epochs, options.Calibrate, Percent(options.CalibrationSparsity)), Recipe = "minilm-mlm", Variant = normalizer + (options.Calibrate ? $"-cal{Percent(options.CalibrationSparsity)}" : ""), Seed = seed, Model = model.Description,
            Config = new SortedDictionary<string, string>
            {
                ["base"] = $"{MiniLM.PackageId} {MiniLM.PackageVersion}", ["normalizer"] = normalizer, ["length"] = $"{options.Length}", ["epochs"] = $"{options.Epochs}",
                ["batch"] = $"{options.BatchSize}", ["lr"] = options.LearningRate.ToString("R", CultureInfo.InvariantCulture), ["warmup"] = $"{trainerOptions.WarmupSteps}",
                ["schedule"] = "linear warm-up, cosine to 10 %", ["masking"] = "BERT 15 %, 80/10/10, fresh per epoch", ["head"] = "fresh transform, decoder tied to word embeddings",
                ["temperature"] = calibration is null ? "none (scores as pretrained)" : $"per head, nearest pretrained map in total variation on {CalibrationWindows} training windows{(options.CalibrationSparsity is { } floor ? $" among maps with ≥ {floor:P0} zeros" : "")}; zeros {calibration.SparsityAfter.SelectMany(z => z).Average():P1}; s from {calibration.Scale.SelectMany(s => s).Min():0.###} to {calibration.Scale.SelectMany(s => s).Max():0.###}, TV {calibration.DistanceBefore.SelectMany(d => d).Average():0.###} -> {calibration.DistanceAfter.SelectMany(d => d).Average():0.###}",
            },
            Dataset = "Moby-Dick word pieces (BertTokenizer, MiniLM's vocabulary)", TrainSplit = $"first {1 - options.HeldOutFraction:P0} of the book, {trainWindows} windows × {options.Epochs} maskings",
            HeldOutSplit = $"last {options.HeldOutFraction:P0}, {heldOut.Count} windows, masks of seed 1000000", Metric = "held-out masked-token perplexity",
            Value = Math.Round(evaluation.Perplexity, 4), Scores = new SortedDictionary<string, double> { ["accuracy"] = Math.Round(evaluation.Accuracy, 5), ["cross_entropy_nats"] = Math.Round(evaluation.CrossEntropy, 5) }, HeldOutExamples = heldOut.Count, Steps = steps, WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Commit = Recipe.BuildCommit, Command = $"dotnet run -c Release --project src/Retrain -- {RunName(normalizer, seed, options.Epochs, options.Calibrate, Percent(options.CalibrationSparsity))}",
            Created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        Checkpoints.Write(manifest with { Name = "local/" + manifest.Name }, model, directory);                    // weights + a copy of the record, not committed
        return Checkpoints.Write(manifest, null, directory);
    }
}
