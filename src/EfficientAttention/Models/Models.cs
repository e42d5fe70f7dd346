using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>A model head over <see cref="TransformerStack"/>: input → logits, optionally with every layer's attention.</summary>
public interface ITransformerModel
{
    TransformerConfig Config { get; }
    TransformerStack Stack { get; }

    /// <summary>Logits, and each layer's attention probabilities (B, H, L, L) from the same forward pass.</summary>
    (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) ForwardWithProbabilities(Tensor input);
}

/// <summary>How an encoder turns token states into one vector per sequence.</summary>
public enum Pooling { Mean, Cls }

/// <summary>
/// Causal language model: token embedding + learned positions → causal block stack → logits through the tied embedding
/// (logits = h Eᵀ). tokens (B, L) int64 → logits (B, L, V).
/// </summary>
public sealed class CausalLanguageModel : Module<Tensor, Tensor>, ITransformerModel
{
    private readonly Embedding embedding;
    private readonly Parameter positions;
    private readonly Dropout dropout;
    private readonly TransformerStack stack;

    public CausalLanguageModel(TransformerConfig config, int vocabularySize) : base(nameof(CausalLanguageModel))
    {
        if (vocabularySize < 2) throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, $"vocabularySize = {vocabularySize}; expected ≥ 2.");
        TorchRuntime.EnsureLoaded();
        VocabularySize = vocabularySize;
        embedding = Embedding(vocabularySize, config.ModelDim);
        positions = Parameter(randn(config.MaxLength, config.ModelDim) * 0.02);
        dropout = Dropout(config.Dropout);
        stack = new TransformerStack(config);
        RegisterComponents();
        using (no_grad()) embedding.weight!.normal_(0, 0.02);
    }

    public int VocabularySize { get; }
    public TransformerConfig Config => stack.Config;
    public TransformerStack Stack => stack;

    public override Tensor forward(Tensor tokens) => Run(tokens, false).Logits;

    public (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) ForwardWithProbabilities(Tensor tokens) => Run(tokens, true);

    private (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) Run(Tensor tokens, bool collect)
    {
        ModelInputs.CheckTokens(tokens, nameof(tokens), Config.MaxLength, VocabularySize);
        using var scope = NewDisposeScope();
        long length = tokens.shape[1];
        var x = dropout.call(embedding.call(tokens) + positions[..(int)length]);      // (B, L, D)
        var (h, p) = stack.Forward(x, AttentionMask.CausalOnly, collect);            // (B, L, D)
        var logits = h.matmul(embedding.weight!.t());                                 // (B, L, V), tied output
        return (logits.MoveToOuterDisposeScope(), p.Select(t => t?.MoveToOuterDisposeScope()).ToList());
    }
}

/// <summary>
/// Bidirectional encoder classifier for LRA-style tasks: tokens (B, L) int64, where <see cref="PadToken"/> marks
/// padding (masked out of attention and of mean pooling) → logits (B, classes).
/// </summary>
public sealed class EncoderClassifier : Module<Tensor, Tensor>, ITransformerModel
{
    private readonly Embedding embedding;
    private readonly Parameter positions, cls;
    private readonly Dropout dropout;
    private readonly TransformerStack stack;
    private readonly Linear head;

    public EncoderClassifier(TransformerConfig config, int vocabularySize, int classes, Pooling pooling = Pooling.Mean, int padToken = 0)
        : base(nameof(EncoderClassifier))
    {
        if (vocabularySize < 2) throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, $"vocabularySize = {vocabularySize}; expected ≥ 2.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes = {classes}; expected ≥ 2.");
        TorchRuntime.EnsureLoaded();
        (VocabularySize, Classes, Pooling, PadToken) = (vocabularySize, classes, pooling, padToken);
        embedding = Embedding(vocabularySize, config.ModelDim);
        positions = Parameter(randn(config.MaxLength + 1, config.ModelDim) * 0.02);    // + 1 for the CLS slot
        cls = Parameter(zeros(1, 1, config.ModelDim));
        dropout = Dropout(config.Dropout);
        stack = new TransformerStack(config);
        head = Linear(config.ModelDim, classes);
        RegisterComponents();
    }

    public int VocabularySize { get; }
    public int Classes { get; }
    public Pooling Pooling { get; }
    public int PadToken { get; }
    public TransformerConfig Config => stack.Config;
    public TransformerStack Stack => stack;

    public override Tensor forward(Tensor tokens) => Run(tokens, false).Logits;

    public (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) ForwardWithProbabilities(Tensor tokens) => Run(tokens, true);

    private (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) Run(Tensor tokens, bool collect)
    {
        ModelInputs.CheckTokens(tokens, nameof(tokens), Config.MaxLength, VocabularySize);
        using var scope = NewDisposeScope();
        long batch = tokens.shape[0], length = tokens.shape[1];
        var real = tokens.ne(PadToken);                                              // (B, L)
        var x = embedding.call(tokens);                                               // (B, L, D)
        if (Pooling == Pooling.Cls)
        {
            x = cat([cls.expand(batch, 1, Config.ModelDim), x], 1);                  // (B, 1 + L, D)
            real = cat([ones(batch, 1, ScalarType.Bool, tokens.device), real], 1);
        }
        x = dropout.call(x + positions[..(int)x.shape[1]]);
        var (h, p) = stack.Forward(x, new AttentionMask { KeyPadding = real }, collect);
        var pooled = Pooling == Pooling.Cls
            ? h[.., 0]                                                                // (B, D)
            : (h * real.unsqueeze(-1)).sum(1) / real.sum(1, keepdim: true).clamp_min(1); // masked mean (B, D)
        return (head.call(pooled).MoveToOuterDisposeScope(), p.Select(t => t?.MoveToOuterDisposeScope()).ToList());
    }
}

/// <summary>
/// Vision transformer classifier: images (B, C, H, W) float → non-overlapping P×P patches, each linearly embedded
/// (a strided convolution) → CLS + patches + learned positions → stack → logits (B, classes).
/// 28×28 images with P = 4 give 49 patch tokens.
/// </summary>
public sealed class VisionTransformer : Module<Tensor, Tensor>, ITransformerModel
{
    private readonly Conv2d patches;
    private readonly Parameter positions, cls;
    private readonly Dropout dropout;
    private readonly TransformerStack stack;
    private readonly Linear head;

    public VisionTransformer(TransformerConfig config, int imageSize, int patchSize, int channels, int classes, Pooling pooling = Pooling.Cls)
        : base(nameof(VisionTransformer))
    {
        if (patchSize < 1 || imageSize % patchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, $"patchSize = {patchSize}; expected a divisor of imageSize = {imageSize}.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes = {classes}; expected ≥ 2.");
        TorchRuntime.EnsureLoaded();
        (ImageSize, PatchSize, Channels, Classes, Pooling) = (imageSize, patchSize, channels, classes, pooling);
        if (PatchCount + 1 > config.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(config), config.MaxLength, $"config.MaxLength = {config.MaxLength}; expected ≥ {PatchCount + 1} (patches + CLS).");
        patches = Conv2d(channels, config.ModelDim, kernel_size: patchSize, stride: patchSize);
        positions = Parameter(randn(PatchCount + 1, config.ModelDim) * 0.02);
        cls = Parameter(zeros(1, 1, config.ModelDim));
        dropout = Dropout(config.Dropout);
        stack = new TransformerStack(config);
        head = Linear(config.ModelDim, classes);
        RegisterComponents();
    }

    public int ImageSize { get; }
    public int PatchSize { get; }
    public int Channels { get; }
    public int Classes { get; }
    public Pooling Pooling { get; }
    public int PatchCount => ImageSize / PatchSize * (ImageSize / PatchSize);
    public TransformerConfig Config => stack.Config;
    public TransformerStack Stack => stack;

    public override Tensor forward(Tensor images) => Run(images, false).Logits;

    public (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) ForwardWithProbabilities(Tensor images) => Run(images, true);

    private (Tensor Logits, IReadOnlyList<Tensor?> Probabilities) Run(Tensor images, bool collect)
    {
        Guard.FloatingTensor(images, nameof(images));
        Guard.Rank(images, 4, nameof(images), "(batch, channels, height, width)");
        if (images.shape[1] != Channels || images.shape[2] != ImageSize || images.shape[3] != ImageSize)
            throw new ArgumentException($"images has shape {Guard.Shape(images)}; expected (B, {Channels}, {ImageSize}, {ImageSize}).", nameof(images));
        using var scope = NewDisposeScope();
        long batch = images.shape[0];
        var x = patches.call(images).flatten(2).transpose(1, 2);                       // (B, N, D), raster order of patches
        x = cat([cls.expand(batch, 1, Config.ModelDim), x], 1);                        // (B, 1 + N, D)
        x = dropout.call(x + positions);
        var (h, p) = stack.Forward(x, null, collect);
        var pooled = Pooling == Pooling.Cls ? h[.., 0] : h[.., 1..].mean([1]);           // (B, D)
        return (head.call(pooled).MoveToOuterDisposeScope(), p.Select(t => t?.MoveToOuterDisposeScope()).ToList());
    }
}

/// <summary>Input checks and summaries shared by the model heads.</summary>
public static class ModelInputs
{
    internal static void CheckTokens(Tensor tokens, string name, int maxLength, int vocabularySize)
    {
        TorchRuntime.EnsureLoaded();
        if (tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"{name} has dtype {tokens.dtype}; expected Int64 token ids.", name);
        Guard.Rank(tokens, 2, name, "(batch, length)");
        if (tokens.shape[1] > maxLength)
            throw new ArgumentException($"{name} has shape {Guard.Shape(tokens)}; expected length ≤ MaxLength = {maxLength}.", name);
        if (tokens.numel() > 0 && (tokens.min().item<long>() < 0 || tokens.max().item<long>() >= vocabularySize))
            throw new ArgumentException($"{name} has ids in [{tokens.min().item<long>()}, {tokens.max().item<long>()}]; expected 0 ≤ id < vocabularySize = {vocabularySize}.", name);
    }

    /// <summary>Number of trainable parameters.</summary>
    public static long ParameterCount(nn.Module module) => module.parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    /// <summary>A one-line description: type, layers × heads, widths and parameter count.</summary>
    public static string Describe(nn.Module module) => module is ITransformerModel m
        ? $"{module.GetType().Name}: {m.Config.Layers} layers × {m.Config.Heads} heads, D = {m.Config.ModelDim}, MLP = {m.Config.MlpDim}, {ParameterCount(module):N0} parameters"
        : $"{module.GetType().Name}: {ParameterCount(module):N0} parameters";
}
