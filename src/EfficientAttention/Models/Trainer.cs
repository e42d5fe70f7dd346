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
    /// <summary>
    /// Seeds the data order and, at each <see cref="Trainer.Fit"/>, dropout (TorchSharp's dropout has no generator
    /// argument, so its default generator is seeded with Seed + step). The model's initial weights have their own seed.
    /// </summary>
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
    public Evaluation? Final => Evaluations.Count > 0 ? Evaluations[^1].Validation : null;
}

/// <summary>
/// Trains any model that maps inputs to logits with cross-entropy, as nanoGPT does: AdamW (the library's own,
/// <see cref="AdamW"/>, whose numbers libtorch cannot lose to a garbage collection) with weight decay on matrices
/// only (the model says which, through <see cref="ITrainable"/>), linear warm-up then cosine decay, global gradient-norm
/// clipping, evaluation every N steps, a deterministic data order, and a dispose scope per step so memory stays flat.
/// Losses are read back to the host at logging and evaluation points, not after every step. Checkpoints hold the
/// model, the optimizer state and the step.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly AdamW optimizer;
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
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        bool Decays(string name, Parameter p) => model is ITrainable t ? t.DecaysWeight(name, p) : p.dim() >= 2;
        DecayedParameters = trainable.Where(p => Decays(p.name, p.parameter)).Select(p => p.name).ToList();
        optimizer = new AdamW(
        [
            new ParameterGroup(trainable.Where(p => Decays(p.name, p.parameter)).Select(p => p.parameter).ToList(), options.WeightDecay),
            new ParameterGroup(trainable.Where(p => !Decays(p.name, p.parameter)).Select(p => p.parameter).ToList(), 0),
        ], options.Beta1, options.Beta2, 1e-8);
    }

    /// <summary>Names of the parameters AdamW decays (the rest get no weight decay).</summary>
    public IReadOnlyList<string> DecayedParameters { get; }

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
        var pending = new List<(int Step, Tensor Loss, double LearningRate, double Norm)>();   // losses not yet read back
        var evaluations = new List<EvalPoint>();
        long tokens = 0, examples = 0;
        var clock = new Stopwatch();
        int total = Options.Steps;
        manual_seed(Options.Seed + Step);                                              // dropout's generator (see Seed)
        using var order = Batches.Shuffled(train.Count, Options.BatchSize, Options.Seed).Skip(Step).GetEnumerator();
        CheckFirstBatch(train);
        if (validation is not null) CheckFirstBatch(validation);
        TrainingProgress.Run(Options.Description, total, Options.Progress, Options.LogEvery, report =>
        {
            report(Step, model is ITrainable t ? t.Description : $"{model.GetType().Name}: {model.parameters().Sum(p => p.numel()):N0} parameters");
            string evalText = "";
            while (Step < total)
            {
                order.MoveNext();
                clock.Start();
                pending.Add(TrainStep(train, order.Current, out long batchTokens));
                clock.Stop();
                tokens += batchTokens;
                examples += order.Current.Length;
                bool evaluate = validation is not null && (Step % Options.EvalEvery == 0 || Step == total);
                if (evaluate || Step % Math.Max(1, Options.LogEvery) == 0 || Step == total) ReadBack(pending, points);
                if (evaluate)
                {
                    var evaluation = Evaluate(validation!, Options.EvalExamples);
                    evaluations.Add(new EvalPoint(Step, evaluation));
                    evalText = $" | valid CE {evaluation.CrossEntropy:F3} acc {evaluation.Accuracy:P1}";
                }
                if (points.Count > 0 && points[^1].Step == Step)
                    report(Step, $"loss {points[^1].Loss:F4} lr {points[^1].LearningRate:E2} {tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N0} tok/s{evalText}");
            }
        });
        return new TrainingHistory(points, evaluations, clock.Elapsed.TotalSeconds, tokens, examples);
    }

    private static void ReadBack(List<(int Step, Tensor Loss, double LearningRate, double Norm)> pending, List<TrainPoint> points)
    {
        foreach (var (step, loss, lr, norm) in pending)
        {
            using (NewDisposeScope())
                points.Add(new TrainPoint(step, loss.to(ScalarType.Float64).item<double>(), lr, norm));
            loss.Dispose();
        }
        pending.Clear();
    }

    private void CheckFirstBatch(IDataset data)
    {
        if (model is not ITrainable trainable || data.Count == 0) return;
        using var scope = NewDisposeScope();
        trainable.CheckInputs(data.Get([0]).Inputs);
    }

    private (int Step, Tensor Loss, double LearningRate, double Norm) TrainStep(IDataset train, long[] indices, out long batchTokens)
    {
        using var scope = NewDisposeScope();
        model.train();
        double lr = LearningRateAt(Step, Options.WarmupSteps, Options.Steps, Options.LearningRate, Options.FinalLearningRateFraction);
        foreach (var group in optimizer.Groups) group.LearningRate = lr;
        var (inputs, targets) = train.Get(indices);
        inputs = inputs.to(device);
        targets = targets.to(device);
        batchTokens = model is ITrainable t ? t.PositionsIn(inputs) : inputs.shape[0];
        optimizer.ZeroGrad();
        var (logits, counted) = model is ICountedOutputs c ? c.AtCounted(inputs, targets) : (model.call(inputs), targets);
        var loss = Metrics.CrossEntropy(logits, counted);
        loss.backward();
        double norm = Options.ClipNorm > 0
            ? nn.utils.clip_grad_norm_(model.parameters(), Options.ClipNorm)               // TorchSharp returns it as a double
            : double.NaN;
        optimizer.Step();
        Step++;
        return (Step, loss.detach().MoveToOuterDisposeScope(), lr, norm);
    }

    /// <summary>Cross-entropy, accuracy, perplexity and bits/dim over the first <paramref name="maxExamples"/> examples (0: all), in eval mode.</summary>
    public Evaluation Evaluate(IDataset data, int maxExamples = 0) => Metrics.Evaluate(model, data, maxExamples, Options.EvalBatchSize);

    private const string CheckpointMagic = "EfficientAttention.Checkpoint/2";   // 2: the library's AdamW state

    /// <summary>Saves model parameters, optimizer state and step to <paramref name="path"/> (atomically).</summary>
    public void Save(string path) => AtomicFile.Write(path, stream =>
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(CheckpointMagic);
        writer.Write(Step);
        model.save(writer);
        optimizer.Save(writer);
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
        optimizer.Load(reader);
    }

    public void Dispose() => optimizer.Dispose();
}
