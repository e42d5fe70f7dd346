using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>How an encoder turns token states into one vector per sequence.</summary>
public enum Pooling { Mean, Cls }

/// <summary>
/// What the causal and the masked language model share: token embedding + learned positions → block stack → logits
/// through the tied embedding (logits = h Eᵀ). tokens (B, L) int64 → logits (B, L, V). They differ only in the mask.
/// </summary>
public abstract class LanguageModel : TransformerModel
{
    private readonly Embedding embedding;
    private readonly Parameter positions;
    private readonly Dropout dropout;

    protected LanguageModel(string name, TransformerConfig config, int vocabularySize, long seed, int minimumVocabulary) : base(name, config)
    {
        if (vocabularySize < minimumVocabulary)
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, $"vocabularySize = {vocabularySize}; expected ≥ {minimumVocabulary}.");
        (VocabularySize, Seed) = (vocabularySize, seed);
        embedding = Embedding(vocabularySize, config.ModelDim);
        positions = Parameter(zeros(config.MaxLength, config.ModelDim));
        dropout = Dropout(config.Dropout);
        register_module(nameof(embedding), embedding);
        register_parameter(nameof(positions), positions);
        register_module(nameof(dropout), dropout);
        Initialize(seed, g =>
        {
            Normal(embedding.weight!, 0.02, g);                                                 // tied: small
            Normal(positions, 0.02, g);
        });
    }

    /// <summary>
    /// Starts this model from <paramref name="source"/>'s weights: every tensor of the same name and shape is copied, and
    /// the token embedding's first rows where this vocabulary extends the source's (a masked LM's mask token after a
    /// causal LM's symbols). A bidirectional masked LM trained from scratch on characters can sit at the unigram loss
    /// for thousands of steps; started from a causal LM whose heads already attend locally, it leaves it at once.
    /// </summary>
    public void WarmStartFrom(LanguageModel source)
    {
        if (source.VocabularySize > VocabularySize)
            throw new ArgumentException($"source.VocabularySize = {source.VocabularySize}; expected ≤ this model's {VocabularySize}.", nameof(source));
        var target = state_dict();
        using var _ = no_grad();
        foreach (var (name, value) in source.state_dict())
        {
            if (!target.TryGetValue(name, out var into))
                throw new ArgumentException($"source has '{name}', which this model lacks; expected the same block stack.", nameof(source));
            if (into.shape.SequenceEqual(value.shape)) into.copy_(value);
            else if (name.StartsWith("embedding") && into.shape[1] == value.shape[1]) into[..(int)value.shape[0]].copy_(value);
            else throw new ArgumentException($"source's '{name}' has shape {Guard.Shape(value)}; expected {Guard.Shape(into)}.", nameof(source));
        }
    }

    public int VocabularySize { get; }
    public long Seed { get; }

    /// <summary>Which keys each query sees: causal for the causal LM, all for the masked LM.</summary>
    protected abstract AttentionMask? Mask { get; }

    protected override IEnumerable<Parameter> Undecayed => [positions];

    protected override void CheckShape(Tensor tokens) => CheckTokenShape(tokens);
    protected override void CheckValues(Tensor tokens) => CheckTokenRange(tokens, VocabularySize);

    protected override (Tensor X, AttentionMask? Mask) Embed(Tensor tokens)
        => (dropout.call(embedding.call(tokens).add(positions[..(int)tokens.shape[1]], Scalars.One)), Mask);

    protected override Tensor ReadOut(Tensor hidden, AttentionMask? mask) => hidden.matmul(embedding.weight!.t());   // (B, L, V), tied
}

/// <summary>Causal language model: query i sees keys j ≤ i; predicts the next token at every position.</summary>
public sealed class CausalLanguageModel : LanguageModel
{
    /// <param name="config">the block stack's shape and attention</param>
    /// <param name="vocabularySize">V: token ids are 0 … V − 1</param>
    /// <param name="seed">seeds the initial weights (a generator of the model's own)</param>
    public CausalLanguageModel(TransformerConfig config, int vocabularySize, long seed = 0)
        : base(nameof(CausalLanguageModel), config, vocabularySize, seed, minimumVocabulary: 2) { }

    protected override AttentionMask? Mask => AttentionMask.CausalOnly;

    protected override TransformerModel Rebuild(TransformerConfig config) => new CausalLanguageModel(config, VocabularySize, Seed);
}

/// <summary>
/// Masked language model (BERT / RoBERTa style): bidirectional (every query sees every key); the last id,
/// <see cref="MaskToken"/> = V − 1, marks a hidden token, and the loss is taken where the targets are set
/// (<see cref="CharCorpus.MaskedWindows"/> sets them at the hidden positions only).
/// </summary>
public sealed class MaskedLanguageModel : LanguageModel
{
    /// <param name="config">the block stack's shape and attention</param>
    /// <param name="vocabularySize">V, counting the mask token (ids 0 … V − 2 are the text's symbols)</param>
    /// <param name="seed">seeds the initial weights (a generator of the model's own)</param>
    public MaskedLanguageModel(TransformerConfig config, int vocabularySize, long seed = 0)
        : base(nameof(MaskedLanguageModel), config, vocabularySize, seed, minimumVocabulary: 3) { }

    public long MaskToken => VocabularySize - 1;

    protected override AttentionMask? Mask => null;

    protected override TransformerModel Rebuild(TransformerConfig config) => new MaskedLanguageModel(config, VocabularySize, Seed);
}

/// <summary>
/// Bidirectional encoder classifier for LRA-style tasks: tokens (B, L) int64, where <see cref="PadToken"/> marks
/// padding (masked out of attention and of mean pooling) → logits (B, classes).
/// </summary>
public sealed class EncoderClassifier : TransformerModel
{
    private readonly Embedding embedding;
    private readonly Parameter positions, cls;
    private readonly Dropout dropout;
    private readonly Linear head;

    public EncoderClassifier(TransformerConfig config, int vocabularySize, int classes, Pooling pooling = Pooling.Mean, int padToken = 0, long seed = 0)
        : base(nameof(EncoderClassifier), config)
    {
        if (vocabularySize < 2) throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, $"vocabularySize = {vocabularySize}; expected ≥ 2.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes = {classes}; expected ≥ 2.");
        (VocabularySize, Classes, Pooling, PadToken, Seed) = (vocabularySize, classes, pooling, padToken, seed);
        embedding = Embedding(vocabularySize, config.ModelDim);
        positions = Parameter(zeros(config.MaxLength + 1, config.ModelDim));           // + 1 for the CLS slot
        cls = Parameter(zeros(1, 1, config.ModelDim));
        dropout = Dropout(config.Dropout);
        head = Linear(config.ModelDim, classes);
        RegisterComponents();
        Initialize(seed, g => Normal(positions, 0.02, g));                    // CLS starts at zero
    }

    public int VocabularySize { get; }
    public int Classes { get; }
    public Pooling Pooling { get; }
    public int PadToken { get; }
    public long Seed { get; }

    protected override IEnumerable<Parameter> Undecayed => [positions, cls];

    public override long PositionsIn(Tensor inputs) => inputs.shape[0] * (inputs.shape[1] + (Pooling == Pooling.Cls ? 1 : 0));

    protected override void CheckShape(Tensor tokens) => CheckTokenShape(tokens);
    protected override void CheckValues(Tensor tokens) => CheckTokenRange(tokens, VocabularySize);

    protected override (Tensor X, AttentionMask? Mask) Embed(Tensor tokens)
    {
        long batch = tokens.shape[0];
        var real = tokens.ne(Scalars.Of(PadToken));                                              // (B, L)
        var x = embedding.call(tokens);                                               // (B, L, D)
        if (Pooling == Pooling.Cls)
        {
            x = cat([cls.expand(batch, 1, Config.ModelDim), x], 1);                  // (B, 1 + L, D)
            real = cat([ones(batch, 1, ScalarType.Bool, tokens.device), real], 1);
        }
        return (dropout.call(x.add(positions[..(int)x.shape[1]], Scalars.One)), new AttentionMask { KeyPadding = real });
    }

    protected override Tensor ReadOut(Tensor hidden, AttentionMask? mask)
    {
        var real = mask!.KeyPadding!;
        var pooled = Pooling == Pooling.Cls
            ? hidden[.., 0]                                                           // (B, D)
            : (hidden * real.unsqueeze(-1)).sum(1) / real.sum(1, keepdim: true).clamp_min(Scalars.One); // masked mean (B, D)
        return head.call(pooled);
    }

    protected override TransformerModel Rebuild(TransformerConfig config) => new EncoderClassifier(config, VocabularySize, Classes, Pooling, PadToken, Seed);
}

/// <summary>
/// Vision transformer classifier: images (B, C, H, W) float → non-overlapping P×P patches, each linearly embedded
/// (a strided convolution) → CLS + patches + learned positions → stack → logits (B, classes).
/// 28×28 images with P = 4 give 49 patch tokens.
/// </summary>
public sealed class VisionTransformer : TransformerModel
{
    private readonly Conv2d patches;
    private readonly Parameter positions, cls;
    private readonly Dropout dropout;
    private readonly Linear head;

    public VisionTransformer(TransformerConfig config, int imageSize, int patchSize, int channels, int classes, Pooling pooling = Pooling.Cls, long seed = 0)
        : base(nameof(VisionTransformer), config)
    {
        if (patchSize < 1 || imageSize % patchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, $"patchSize = {patchSize}; expected a divisor of imageSize = {imageSize}.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes = {classes}; expected ≥ 2.");
        (ImageSize, PatchSize, Channels, Classes, Pooling, Seed) = (imageSize, patchSize, channels, classes, pooling, seed);
        if (PatchCount + 1 > config.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(config), config.MaxLength, $"config.MaxLength = {config.MaxLength}; expected ≥ {PatchCount + 1} (patches + CLS).");
        patches = Conv2d(channels, config.ModelDim, kernel_size: patchSize, stride: patchSize);
        positions = Parameter(zeros(PatchCount + 1, config.ModelDim));
        cls = Parameter(zeros(1, 1, config.ModelDim));
        dropout = Dropout(config.Dropout);
        head = Linear(config.ModelDim, classes);
        RegisterComponents();
        Initialize(seed, g => Normal(positions, 0.02, g));                    // CLS starts at zero
    }

    public int ImageSize { get; }
    public int PatchSize { get; }
    public int Channels { get; }
    public int Classes { get; }
    public Pooling Pooling { get; }
    public long Seed { get; }
    public int PatchCount => ImageSize / PatchSize * (ImageSize / PatchSize);

    protected override IEnumerable<Parameter> Undecayed => [positions, cls];

    public override long PositionsIn(Tensor images) => images.shape[0] * (PatchCount + 1);

    protected override void CheckShape(Tensor images)
    {
        Guard.FloatingTensor(images, nameof(images));
        Guard.Rank(images, 4, nameof(images), "(batch, channels, height, width)");
        if (images.shape[1] != Channels || images.shape[2] != ImageSize || images.shape[3] != ImageSize)
            throw new ArgumentException($"images has shape {Guard.Shape(images)}; expected (B, {Channels}, {ImageSize}, {ImageSize}).", nameof(images));
    }

    protected override (Tensor X, AttentionMask? Mask) Embed(Tensor images)
    {
        var x = patches.call(images).flatten(2).transpose(1, 2);                       // (B, N, D), raster order of patches
        x = cat([cls.expand(images.shape[0], 1, Config.ModelDim), x], 1);              // (B, 1 + N, D)
        return (dropout.call(x.add(positions, Scalars.One)), null);
    }

    protected override Tensor ReadOut(Tensor hidden, AttentionMask? mask)
        => head.call(Pooling == Pooling.Cls ? hidden[.., 0] : hidden[.., 1..].mean([1])); // (B, D) → (B, classes)

    protected override TransformerModel Rebuild(TransformerConfig config) => new VisionTransformer(config, ImageSize, PatchSize, Channels, Classes, Pooling, Seed);
}
