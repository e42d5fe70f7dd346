using EfficientAttention;

namespace EfficientAttention.Notebooks;

/// <summary>
/// The models of notebook 03 (Sparsefinder), every head 1.5-entmax: a masked character LM — the regime of the paper's
/// RoBERTa experiments: bidirectional, 256-character windows, BERT's 15 % masking, started from the causal LM's weights —
/// a causal character LM of the same shape, and the copy model of 24 symbols. One trained model each (seed 0): the seeds of the notebook's comparisons
/// are those of the projections, predictors and routed evaluations built on these models.
/// </summary>
public static class SparsefinderRecipes
{
    public const int Context = 256;

    /// <summary>The variants: "mlm", "lm", "copy".</summary>
    public static IReadOnlyList<string> Variants { get; } = ["mlm", "lm", "copy"];

    private static readonly Lazy<CharCorpus> Corpus = new(() => CharCorpus.Load());
    private static readonly Lazy<(SequenceTask Train, SequenceTask Test)> CopyTask = new(() =>
        (SequenceProbes.Copy(6000, n: 24, symbols: 10, seed: 1), SequenceProbes.Copy(500, n: 24, symbols: 10, seed: 2)));

    /// <summary>The copy task of notebook 03 (x₁ … x₂₄ : x₁ … x₂₄, 10 symbols).</summary>
    public static (SequenceTask Train, SequenceTask Test) Copy => CopyTask.Value;

    private static TransformerConfig Config(int layers, int dim, int length) =>
        new(layers, 4, dim, 4 * dim, MaxLength: length) { Attention = _ => new ScaledDotProductAttention(Normalizer.Entmax15) };

    /// <summary>
    /// The masked LM starts from the causal LM's weights (<see cref="LanguageModel.WarmStartFrom"/>): trained from scratch
    /// it stayed at the unigram loss (≈ 2.85 nats) for 3 600 steps in every setting tried (lr 1e-3 and 3e-3, windows of
    /// 64–256, 15 % and 30 % masking, a sinusoidal start for the position table), while warm-started it reached 2.13 nats in 300 steps.
    /// </summary>
    private static MaskedLanguageModel WarmStarted(MaskedLanguageModel model)
    {
        using var causal = Model("lm").Load(0).Model;
        model.WarmStartFrom((LanguageModel)causal);
        return model;
    }

    public static Recipe Model(string variant) => variant switch
    {
        "mlm" => new Recipe
        {
            Name = "sparsefinder", Variant = "mlm", Task = "masked character language modelling (Moby-Dick)", Metric = "validation bits per masked character",
            KeepWeights = true, Seeds = [0],
            Build = seed => WarmStarted(new MaskedLanguageModel(Config(4, 128, Context), Corpus.Value.VocabularySize + 1, seed)),
            Data = () => new RecipeData("Moby-Dick (characters)", "train (90 %), 256-character windows every 128, 15 % masked (seed 1)",
                CharCorpus.MaskedWindows(Corpus.Value.Train, Context, Corpus.Value.VocabularySize, seed: 1, stride: Context / 2),
                "validation (5 %), 15 % masked (seed 2)", CharCorpus.MaskedWindows(Corpus.Value.Valid, Context, Corpus.Value.VocabularySize, seed: 2)),
            Options = new TrainerOptions { Steps = 3000, BatchSize = 16, LearningRate = 1e-3, WarmupSteps = 100, LogEvery = 100 },
            Score = e => e.BitsPerDimension,
            Extra = new Dictionary<string, string> { ["context"] = $"{Context}", ["attention"] = "1.5-entmax", ["masking"] = "0.15, 80/10/10", ["start"] = "the weights of sparsefinder-lm-s0" },
        },
        "lm" => new Recipe
        {
            Name = "sparsefinder", Variant = "lm", Task = "character language modelling (Moby-Dick)", Metric = "validation bits per character",
            KeepWeights = true, Seeds = [0],
            Build = seed => new CausalLanguageModel(Config(4, 128, Context), Corpus.Value.VocabularySize, seed),
            Data = () => new RecipeData("Moby-Dick (characters)", "train (90 %), 256-character windows every 128",
                CharCorpus.Windows(Corpus.Value.Train, Context, stride: Context / 2), "validation (5 %)", CharCorpus.Windows(Corpus.Value.Valid, Context)),
            Options = new TrainerOptions { Steps = 3000, BatchSize = 16, LearningRate = 2e-3, WarmupSteps = 100, LogEvery = 100 },
            Score = e => e.BitsPerDimension,
            Extra = new Dictionary<string, string> { ["context"] = $"{Context}", ["attention"] = "1.5-entmax" },
        },
        "copy" => new Recipe
        {
            Name = "sparsefinder", Variant = "copy", Task = "copy 24 symbols after a separator", Metric = "test accuracy (answer positions)",
            KeepWeights = true, Seeds = [0],
            Build = seed => new CausalLanguageModel(Config(2, 64, 48), Copy.Train.VocabularySize, seed),
            Data = () => new RecipeData("synthetic copy task (n = 24, 10 symbols)", "6 000 sequences (seed 1)", Copy.Train.Data, "500 sequences (seed 2)", Copy.Test.Data),
            Options = new TrainerOptions { Steps = 600, BatchSize = 32, LearningRate = 3e-3, WarmupSteps = 50, LogEvery = 100 },
            Score = e => e.Accuracy,
            Extra = new Dictionary<string, string> { ["attention"] = "1.5-entmax" },
        },
        _ => throw new ArgumentException($"variant = '{variant}'; expected one of {string.Join(", ", Variants)}.", nameof(variant)),
    };
}
