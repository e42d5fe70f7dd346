using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Evaluation totals over a dataset: mean cross-entropy in nats per target, accuracy, and the derived perplexity
/// exp(CE) and bits per dimension CE / ln 2 (per character, per pixel, …).
/// </summary>
public sealed record Evaluation(double CrossEntropy, double Accuracy, long Targets)
{
    public double Perplexity => Math.Exp(CrossEntropy);
    public double BitsPerDimension => CrossEntropy / Math.Log(2);
    public override string ToString() => $"CE {CrossEntropy:F4} nats, acc {Accuracy:P2}, ppl {Perplexity:F3}, {BitsPerDimension:F4} bits/dim over {Targets:N0} targets";
}

public static class Metrics
{
    /// <summary>
    /// Evaluates <paramref name="model"/> (inputs → logits) on the first <paramref name="maxExamples"/> examples of
    /// <paramref name="data"/> (0: all), in order, in eval mode, without gradients, on the model's device.
    /// </summary>
    public static Evaluation Evaluate(nn.Module<Tensor, Tensor> model, IDataset data, int maxExamples = 0, int batchSize = 128)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize = {batchSize}; expected ≥ 1.");
        var device = model.parameters().FirstOrDefault()?.device ?? CPU;
        int count = maxExamples > 0 ? Math.Min(maxExamples, data.Count) : data.Count;
        double lossSum = 0; long correct = 0, targets = 0;
        model.eval();
        using (no_grad())
            foreach (var batch in Batches.Sequential(count, batchSize))
            {
                using var scope = NewDisposeScope();
                var (x, y) = data.Get(batch);
                var (logits, counted) = model is ICountedOutputs o ? o.AtCounted(x.to(device), y.to(device)) : (model.call(x.to(device)), y.to(device));
                var (l, c, n) = Totals(logits, counted);
                lossSum += l; correct += c; targets += n;
            }
        return new Evaluation(lossSum / Math.Max(targets, 1), (double)correct / Math.Max(targets, 1), targets);
    }

    /// <summary>Mean cross-entropy of logits (…, C) against int64 targets (…), skipping <see cref="IDataset.IgnoreIndex"/>.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        CheckPair(logits, targets);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), ignore_index: IDataset.IgnoreIndex);
    }

    /// <summary>(sum of cross-entropy in nats, number of correct argmax predictions, number of targets), ignoring <see cref="IDataset.IgnoreIndex"/>.</summary>
    public static (double LossSum, long Correct, long Count) Totals(Tensor logits, Tensor targets)
    {
        CheckPair(logits, targets);
        using var scope = NewDisposeScope();
        var flatLogits = logits.reshape(-1, logits.shape[^1]);
        var flatTargets = targets.reshape(-1);
        var counted = flatTargets.ne(Scalars.Of(IDataset.IgnoreIndex));
        double loss = nn.functional.cross_entropy(flatLogits, flatTargets, ignore_index: IDataset.IgnoreIndex, reduction: nn.Reduction.Sum).to(ScalarType.Float64).item<double>();
        long correct = flatLogits.argmax(-1).eq(flatTargets).logical_and(counted).sum().item<long>();
        return (loss, correct, counted.sum().item<long>());
    }

    /// <summary>Accuracy of argmax predictions over the counted targets.</summary>
    public static double Accuracy(Tensor logits, Tensor targets)
    {
        var (_, correct, count) = Totals(logits, targets);
        return count == 0 ? double.NaN : (double)correct / count;
    }

    private static void CheckPair(Tensor logits, Tensor targets)
    {
        if (targets.dtype != ScalarType.Int64) throw new ArgumentException($"targets has dtype {targets.dtype}; expected Int64.", nameof(targets));
        if (logits.dim() != targets.dim() + 1 || !logits.shape[..^1].SequenceEqual(targets.shape))
            throw new ArgumentException($"logits has shape {Guard.Shape(logits)} and targets {Guard.Shape(targets)}; expected logits = targets' shape + (classes).", nameof(logits));
    }
}
