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
    public sealed record Options(int Length = 128, int Epochs = 3, int BatchSize = 32, double LearningRate = 2e-4, double HeldOutFraction = 0.1, int EvalBatchSize = 16, int? MaxSteps = null);

    public static readonly string[] Normalizers = ["softmax", "entmax15"];

    /// <summary>minilm-mlm-&lt;normalizer&gt;[-e&lt;epochs&gt;]-s&lt;seed&gt; (the epochs named only where they differ from the default 3).</summary>
    public static string RunName(string normalizer, long seed, int epochs = 3) => $"minilm-mlm-{normalizer}{(epochs == 3 ? "" : $"-e{epochs}")}-s{seed}";

    /// <summary>The normalizer, epochs and seed named by a run name (<c>minilm-mlm-entmax15-s0</c>, <c>minilm-mlm-softmax-e6-s1</c>), or null when it is not one.</summary>
    public static (string Normalizer, int Epochs, long Seed)? Parse(string run)
    {
        var match = System.Text.RegularExpressions.Regex.Match(run, @"^minilm-mlm-(softmax|entmax15)(?:-e(\d+))?-s(\d+)$");
        if (!match.Success) return null;
        int epochs = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 3;
        return (match.Groups[1].Value, epochs, long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>Train and held-out sets: the book's word pieces in windows, split by position (the last tenth held out).</summary>
    public static (TensorDataset Train, TensorDataset HeldOut, int TrainWindows) Data(MiniLM model, Options options, long seed)
    {
        var text = File.ReadAllText(DataPaths.FindUp(CharCorpus.DefaultRelativePath)
            ?? throw new FileNotFoundException($"{CharCorpus.DefaultRelativePath} not found above {Directory.GetCurrentDirectory()}."));
        using var windows = WordPieceCorpus.Windows(model, WordPieceCorpus.Encode(model, text), options.Length);
        int n = (int)windows.shape[0], held = (int)(n * options.HeldOutFraction);
        var heldOut = WordPieceCorpus.Masked(model, windows[(n - held)..], seed: 1_000_000);            // the same masks for every run
        var epochs = Enumerable.Range(0, options.Epochs).Select(e => WordPieceCorpus.Masked(model, windows[..(n - held)], seed: seed * 1000 + e)).ToList();
        var train = new TensorDataset(cat(epochs.Select(d => d.Inputs).ToList(), 0), cat(epochs.Select(d => d.Targets).ToList(), 0));
        return (train, heldOut, n - held);
    }

    /// <summary>The fine-tuned run <paramref name="normalizer"/>/<paramref name="seed"/> from its local weights (hash checked), in eval mode.</summary>
    public static BertMaskedLm Load(string normalizer, long seed, int epochs = 3, string? directory = null)
    {
        directory ??= Path.Combine(Checkpoints.DefaultDirectory, "minilm");
        var manifest = Checkpoints.ReadManifest("local/" + RunName(normalizer, seed, epochs), directory);
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

    /// <summary>Fine-tunes one run and writes its manifest (and local weights); returns the manifest.</summary>
    public static TrainingManifest Train(string normalizer, long seed, IProgress<ProgressReport>? progress = null, Options? options = null, string? directory = null)
    {
        options ??= new Options();
        var norm = NormalizerOf(normalizer);
        var clock = Stopwatch.StartNew();
        using var miniLM = MiniLM.Load(normalizer: norm);
        manual_seed(seed);
        var (train, heldOut, trainWindows) = Data(miniLM, options, seed);
        using var model = new BertMaskedLm(miniLM.Encoder, seed);
        int steps = Math.Min(options.Epochs * trainWindows / options.BatchSize, options.MaxSteps ?? int.MaxValue);
        var trainerOptions = new TrainerOptions { Steps = steps, BatchSize = options.BatchSize, LearningRate = options.LearningRate, WarmupSteps = Math.Max(1, steps / 10),
            EvalEvery = Math.Max(1, steps / 4), EvalBatchSize = options.EvalBatchSize, Seed = seed, Progress = progress, LogEvery = 10, Description = RunName(normalizer, seed, options.Epochs) };
        using (var trainer = new Trainer(model, trainerOptions)) trainer.Fit(train, heldOut);
        var evaluation = Metrics.Evaluate(model, heldOut, 0, options.EvalBatchSize);
        clock.Stop();
        directory ??= Path.Combine(Checkpoints.DefaultDirectory, "minilm");
        Directory.CreateDirectory(Path.Combine(directory, "local"));
        var manifest = new TrainingManifest
        {
            Name = RunName(normalizer, seed, options.Epochs), Recipe = "minilm-mlm", Variant = normalizer, Seed = seed, Model = model.Description,
            Config = new SortedDictionary<string, string>
            {
                ["base"] = $"{MiniLM.PackageId} {MiniLM.PackageVersion}", ["normalizer"] = normalizer, ["length"] = $"{options.Length}", ["epochs"] = $"{options.Epochs}",
                ["batch"] = $"{options.BatchSize}", ["lr"] = options.LearningRate.ToString("R", CultureInfo.InvariantCulture), ["warmup"] = $"{trainerOptions.WarmupSteps}",
                ["schedule"] = "linear warm-up, cosine to 10 %", ["masking"] = "BERT 15 %, 80/10/10, fresh per epoch", ["head"] = "fresh transform, decoder tied to word embeddings",
            },
            Dataset = "Moby-Dick word pieces (BertTokenizer, MiniLM's vocabulary)", TrainSplit = $"first {1 - options.HeldOutFraction:P0} of the book, {trainWindows} windows × {options.Epochs} maskings",
            HeldOutSplit = $"last {options.HeldOutFraction:P0}, {heldOut.Count} windows, masks of seed 1000000", Metric = "held-out masked-token perplexity",
            Value = Math.Round(evaluation.Perplexity, 4), Scores = new SortedDictionary<string, double> { ["accuracy"] = Math.Round(evaluation.Accuracy, 5), ["cross_entropy_nats"] = Math.Round(evaluation.CrossEntropy, 5) }, HeldOutExamples = heldOut.Count, Steps = steps, WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Commit = Recipe.BuildCommit, Command = $"dotnet run -c Release --project src/Retrain -- {RunName(normalizer, seed, options.Epochs)}",
            Created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        Checkpoints.Write(manifest with { Name = "local/" + manifest.Name }, model, directory);                    // weights + a copy of the record, not committed
        return Checkpoints.Write(manifest, null, directory);
    }
}
