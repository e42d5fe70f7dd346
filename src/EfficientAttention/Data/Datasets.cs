using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// A dataset the trainer can batch: examples addressed by index, returned as CPU tensors (the trainer moves them to
/// its device). Targets are int64 class ids; <see cref="IgnoreIndex"/> marks positions without a loss.
/// </summary>
public interface IDataset
{
    int Count { get; }

    /// <summary>Inputs and targets of the examples at <paramref name="indices"/>, stacked along a new first axis.</summary>
    (Tensor Inputs, Tensor Targets) Get(long[] indices);

    public const long IgnoreIndex = -100;
}

/// <summary>A dataset held as two tensors whose first axis indexes examples.</summary>
public sealed class TensorDataset : IDataset
{
    public TensorDataset(Tensor inputs, Tensor targets)
    {
        TorchRuntime.EnsureLoaded();
        if (inputs.dim() < 1 || targets.dim() < 1 || inputs.shape[0] != targets.shape[0])
            throw new ArgumentException($"inputs has shape {Guard.Shape(inputs)} and targets {Guard.Shape(targets)}; expected the same size on axis 0 (examples).", nameof(targets));
        if (targets.dtype != ScalarType.Int64)
            throw new ArgumentException($"targets has dtype {targets.dtype}; expected Int64 class ids.", nameof(targets));
        // A dataset lives as long as it is referenced: its tensors leave any dispose scope they were made in.
        Inputs = inputs.detach().DetachFromDisposeScope();
        Targets = targets.detach().DetachFromDisposeScope();
    }

    public Tensor Inputs { get; }
    public Tensor Targets { get; }
    public int Count => (int)Inputs.shape[0];

    public (Tensor Inputs, Tensor Targets) Get(long[] indices)
    {
        using var idx = tensor(indices);
        return (Inputs.index_select(0, idx), Targets.index_select(0, idx));
    }

    /// <summary>The first <paramref name="count"/> examples (a view, no copy).</summary>
    public TensorDataset Take(int count) => new(Inputs[..Math.Min(count, Count)], Targets[..Math.Min(count, Count)]);
}

/// <summary>Deterministic batch orders.</summary>
public static class Batches
{
    /// <summary>
    /// Endless shuffled batches: epoch e is a Fisher–Yates permutation drawn from <c>new Random(seed + e)</c>, cut into
    /// full batches (the last partial batch of an epoch is dropped). Same seed, same order, on every machine.
    /// </summary>
    public static IEnumerable<long[]> Shuffled(int count, int batchSize, long seed)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "the dataset is empty; expected ≥ 1 example.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize = {batchSize}; expected ≥ 1.");
        batchSize = Math.Min(batchSize, count);
        for (long epoch = 0; ; epoch++)
        {
            var order = Enumerable.Range(0, count).Select(i => (long)i).ToArray();
            new Random(unchecked((int)(seed * 1_000_003 + epoch))).Shuffle(order);
            for (int start = 0; start + batchSize <= count; start += batchSize)
                yield return order[start..(start + batchSize)];
        }
    }

    /// <summary>All examples once, in order, in batches of at most <paramref name="batchSize"/>.</summary>
    public static IEnumerable<long[]> Sequential(int count, int batchSize)
    {
        for (int start = 0; start < count; start += batchSize)
            yield return Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(i => (long)i).ToArray();
    }
}

/// <summary>Finds files the repository ships or set-up scripts install, from wherever the code runs.</summary>
public static class DataPaths
{
    /// <summary>
    /// The first existing <paramref name="relative"/> path under the current directory, the directory of this library,
    /// or any of their ancestors (so notebooks, tests and tools in any sub-folder find <c>datasets/…</c>); null if none.
    /// </summary>
    public static string? FindUp(string relative)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), Path.GetDirectoryName(typeof(DataPaths).Assembly.Location) })
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
            }
        return null;
    }
}
