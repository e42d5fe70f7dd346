using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>Training settings. Defaults suit the small models of the notebooks.</summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak learning rate, reached after <see cref="WarmupSteps"/>.</summary>
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.98;
    public int WarmupSteps { get; init; } = 100;
    /// <summary>The cosine decays from the peak to this fraction of it at the last step.</summary>
    public double FinalLearningRateFraction { get; init; } = 0.1;
    /// <summary>Gradients are rescaled so their global L2 norm is at most this (≤ 0 disables).</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Evaluate on the validation set every this many steps (and after the last).</summary>
    public int EvalEvery { get; init; } = 200;
    /// <summary>Validation examples per evaluation (the first ones, in order); 0: all.</summary>
    public int EvalExamples { get; init; }
    public int EvalBatchSize { get; init; } = 128;
    /// <summary>Seeds the data order and TorchSharp's generator (dropout). Seed model construction with torch.manual_seed yourself.</summary>
    public long Seed { get; init; }
    /// <summary>Where the model and batches live; null: the model's current device.</summary>
    public Device? Device { get; init; }
    /// <summary>Where progress goes (the opening line, then every <see cref="LogEvery"/> steps and the last); null: nowhere.</summary>
    public IProgress<ProgressReport>? Progress { get; init; } = LineProgress.Console;
    public int LogEvery { get; init; } = 50;
    public string Description { get; init; } = "train";
}

/// <summary>One training step's record.</summary>
public sealed record TrainPoint(int Step, double Loss, double LearningRate, double GradientNorm);

/// <summary>One evaluation's record.</summary>
public sealed record EvalPoint(int Step, Evaluation Validation);

/// <summary>Loss and metric history for plotting, and the throughput of the run.</summary>
public sealed record TrainingHistory(IReadOnlyList<TrainPoint> Train, IReadOnlyList<EvalPoint> Evaluations, double Seconds, long Tokens, long Examples)
{
    /// <summary>Input positions processed per second of training (evaluation time excluded).</summary>
    public double TokensPerSecond => Tokens / Seconds;
    public double ExamplesPerSecond => Examples / Seconds;
    public Evaluation? Final => Evaluations.Count > 0 ? Evaluations[^1].Validation : null;
}

/// <summary>
/// Trains any model that maps inputs to logits with cross-entropy: AdamW, linear warm-up then cosine decay, global
/// gradient-norm clipping, evaluation every N steps, a deterministic data order, and a dispose scope per step so memory
/// stays flat. Checkpoints hold the model, the optimizer state and the step.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly OptimizerHelper optimizer;
    private readonly Device device;

    public Trainer(nn.Module<Tensor, Tensor> model, TrainerOptions options)
    {
        TorchRuntime.EnsureLoaded();
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.Steps < 0) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, $"options.Steps = {options.Steps}; expected ≥ 0.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, $"options.BatchSize = {options.BatchSize}; expected ≥ 1.");
        Guard.Positive(options.LearningRate, "options.LearningRate");
        device = options.Device ?? model.parameters().FirstOrDefault()?.device ?? CPU;
        model.to(device);
        optimizer = optim.AdamW(model.parameters(), options.LearningRate, options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        manual_seed(options.Seed);
    }

    public TrainerOptions Options { get; }

    /// <summary>Optimizer steps taken so far (continues across <see cref="Fit"/> calls and checkpoints).</summary>
    public int Step { get; private set; }

    /// <summary>Linear warm-up to the peak over <c>warmup</c> steps, then cosine decay to <c>final</c>·peak at <c>total</c>.</summary>
    public static double LearningRateAt(int step, int warmup, int total, double peak, double final)
    {
        if (step < warmup) return peak * (step + 1) / warmup;
        double progress = total <= warmup ? 1 : Math.Clamp((double)(step - warmup) / Math.Max(1, total - 1 - warmup), 0, 1);
        return peak * (final + (1 - final) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Runs <see cref="TrainerOptions.Steps"/> steps in total (counting earlier ones), evaluating on <paramref name="validation"/>.</summary>
    public TrainingHistory Fit(IDataset train, IDataset? validation = null)
    {
        var points = new List<TrainPoint>();
        var evaluations = new List<EvalPoint>();
        long tokens = 0, examples = 0;
        var clock = new Stopwatch();
        int total = Options.Steps;
        using var order = Batches.Shuffled(train.Count, Options.BatchSize, Options.Seed).Skip(Step).GetEnumerator();
        TrainingProgress.Run(Options.Description, total, Options.Progress, Options.LogEvery, report =>
        {
            report(Step, ModelInputs.Describe(model));                                 // parameter count first
            string evalText = "";
            while (Step < total)
            {
                order.MoveNext();
                clock.Start();
                var point = TrainStep(train, order.Current, out long batchTokens);
                clock.Stop();
                points.Add(point);
                tokens += batchTokens;
                examples += order.Current.Length;
                if (validation is not null && (Step % Options.EvalEvery == 0 || Step == total))
                {
                    var evaluation = Evaluate(validation, Options.EvalExamples);
                    evaluations.Add(new EvalPoint(Step, evaluation));
                    evalText = $" | valid CE {evaluation.CrossEntropy:F3} acc {evaluation.Accuracy:P1}";
                }
                report(Step, $"loss {point.Loss:F4} lr {point.LearningRate:E2} {tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N0} tok/s{evalText}");
            }
        });
        return new TrainingHistory(points, evaluations, clock.Elapsed.TotalSeconds, tokens, examples);
    }

    private TrainPoint TrainStep(IDataset train, long[] indices, out long batchTokens)
    {
        using var scope = NewDisposeScope();
        model.train();
        double lr = LearningRateAt(Step, Options.WarmupSteps, Options.Steps, Options.LearningRate, Options.FinalLearningRateFraction);
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        var (inputs, targets) = train.Get(indices);
        inputs = inputs.to(device);
        targets = targets.to(device);
        batchTokens = model is VisionTransformer vit ? inputs.shape[0] * (vit.PatchCount + 1) : inputs.numel();
        optimizer.zero_grad();
        var loss = Metrics.CrossEntropy(model.call(inputs), targets);
        loss.backward();
        double norm = Options.ClipNorm > 0
            ? nn.utils.clip_grad_norm_(model.parameters(), Options.ClipNorm)
            : double.NaN;
        optimizer.step();
        Step++;
        return new TrainPoint(Step, loss.to(ScalarType.Float64).item<double>(), lr, norm);
    }

    /// <summary>Cross-entropy, accuracy, perplexity and bits/dim over the first <paramref name="maxExamples"/> examples (0: all), in eval mode.</summary>
    public Evaluation Evaluate(IDataset data, int maxExamples = 0)
    {
        int count = maxExamples > 0 ? Math.Min(maxExamples, data.Count) : data.Count;
        double lossSum = 0; long correct = 0, targets = 0;
        model.eval();
        using (no_grad())
            foreach (var batch in Batches.Sequential(count, Options.EvalBatchSize))
            {
                using var scope = NewDisposeScope();
                var (x, y) = data.Get(batch);
                var (l, c, n) = Metrics.Totals(model.call(x.to(device)), y.to(device));
                lossSum += l; correct += c; targets += n;
            }
        return new Evaluation(lossSum / Math.Max(targets, 1), (double)correct / Math.Max(targets, 1), targets);
    }

    private const string CheckpointMagic = "EfficientAttention.Checkpoint/1";

    /// <summary>Saves model parameters, optimizer state and step to <paramref name="path"/> (atomically).</summary>
    public void Save(string path) => DataPaths.WriteAtomically(path, stream =>
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(CheckpointMagic);
        writer.Write(Step);
        model.save(writer);
        optimizer.save_state_dict(writer);
    });

    /// <summary>Restores what <see cref="Save"/> wrote into this trainer's model and optimizer (same architecture).</summary>
    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint {path} does not exist.", path);
        using var reader = new BinaryReader(File.OpenRead(path));
        var magic = reader.ReadString();
        if (magic != CheckpointMagic) throw new InvalidDataException($"{path} starts with '{magic}'; expected a checkpoint written by Trainer.Save ('{CheckpointMagic}').");
        Step = reader.ReadInt32();
        model.load(reader);
        model.to(device);
        optimizer.load_state_dict(reader);
    }

    public void Dispose() => optimizer.Dispose();
}
