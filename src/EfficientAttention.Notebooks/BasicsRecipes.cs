using EfficientAttention;

namespace EfficientAttention.Notebooks;

/// <summary>
/// The models of notebooks 00 and 01: a 2-layer causal model that learns to copy (<c>x₁ … x₁₀ : x₁ … x₁₀</c>, 8 symbols),
/// with softmax attention (<c>copy-softmax</c>, notebook 00) or 1.5-entmax attention in every head (<c>copy-entmax15</c>,
/// notebook 01). Validation accuracy is over the answer positions.
/// </summary>
public static class BasicsRecipes
{
    private static readonly Lazy<(SequenceTask Train, SequenceTask Valid)> Task = new(() =>
        (SequenceProbes.Copy(4000, n: 10, symbols: 8, seed: 1), SequenceProbes.Copy(500, n: 10, symbols: 8, seed: 2)));

    /// <summary>The copy task: 4 000 training and 500 validation sequences.</summary>
    public static (SequenceTask Train, SequenceTask Valid) CopyTask => Task.Value;

    /// <summary>The variants: "softmax" and "entmax15".</summary>
    public static IReadOnlyList<string> Variants { get; } = ["softmax", "entmax15"];

    public static Recipe Copy(string variant = "softmax")
    {
        var normalizer = variant switch
        {
            "softmax" => Normalizer.Softmax,
            "entmax15" => Normalizer.Entmax15,
            _ => throw new ArgumentException($"variant = '{variant}'; expected one of {string.Join(", ", Variants)}.", nameof(variant)),
        };
        var (train, _) = Task.Value;
        var config = new TransformerConfig(Layers: 2, Heads: 4, ModelDim: 64, MlpDim: 256, MaxLength: train.Length)
        {
            Attention = _ => new ScaledDotProductAttention(normalizer),
        };
        return new Recipe
        {
            Name = "copy", Variant = variant, Task = "copy 10 symbols after a separator", Metric = "validation accuracy (answer positions)", KeepWeights = true,
            Build = seed => new CausalLanguageModel(config, train.VocabularySize, seed: seed),
            Data = () => new RecipeData("synthetic copy task (n = 10, 8 symbols)", "4 000 sequences (seed 1)", Task.Value.Train.Data, "500 sequences (seed 2)", Task.Value.Valid.Data),
            Options = new TrainerOptions { Steps = variant == "softmax" ? 400 : 600, BatchSize = 32, LearningRate = 3e-3, WarmupSteps = 50, LogEvery = 100 },
            Score = e => e.Accuracy,
            Extra = new Dictionary<string, string> { ["attention"] = normalizer.Name },
        };
    }
}
