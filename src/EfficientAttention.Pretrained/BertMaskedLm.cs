using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention.Pretrained;

/// <summary>
/// A pretrained <see cref="BertEncoder"/> with BERT's masked-LM head — a fresh transform (dense D → D, erf GELU,
/// LayerNorm) and a decoder tied to the encoder's word embeddings, plus a bias:
/// <c>logits = LN(GELU(h W + b)) Eᵀ + c</c>. all-MiniLM-L6-v2 ships without its MLM head (sentence-transformers drops
/// it), so the transform starts at BERT's initialisation (N(0, 0.02²)) and c at 0. Logits are computed only at the
/// positions that count (<see cref="ICountedOutputs"/>): 15 % of the tokens, not a 30 522-way softmax everywhere.
/// </summary>
public sealed class BertMaskedLm : Module<Tensor, Tensor>, ITrainable, ICountedOutputs
{
    private readonly BertEncoder encoder;
    private readonly Linear transform;
    private readonly LayerNorm transformNorm;
    private readonly Parameter decoderBias;

    public BertMaskedLm(BertEncoder encoder, long seed) : base(nameof(BertMaskedLm))
    {
        this.encoder = encoder;
        var shape = encoder.Shape;
        transform = Linear(shape.ModelDim, shape.ModelDim);
        transformNorm = LayerNorm(shape.ModelDim, shape.LayerNormEpsilon);
        decoderBias = new Parameter(zeros(shape.Vocabulary));
        using (no_grad())
        {
            using var generator = new Generator((ulong)seed);
            transform.weight!.copy_(randn(transform.weight.shape, generator: generator).mul_(Scalars.Of(0.02)));
            transform.bias!.zero_();
        }
        RegisterComponents();
    }

    public BertEncoder Encoder => encoder;

    /// <summary>Logits (B, L, V) at every position (for inspection; training and evaluation use <see cref="AtCounted"/>).</summary>
    public override Tensor forward(Tensor ids) => Head(Hidden(ids));

    public (Tensor Logits, Tensor Targets) AtCounted(Tensor inputs, Tensor targets)
    {
        var counted = targets.ne(Scalars.Of(IDataset.IgnoreIndex));                   // (B, L)
        var hidden = Hidden(inputs)[counted];                                          // (M, D)
        return (Head(hidden), targets[counted]);
    }

    private Tensor Hidden(Tensor ids)
    {
        using var real = ones_like(ids, ScalarType.Bool);
        return encoder.Forward(ids, real).Output;
    }

    private Tensor Head(Tensor hidden) =>
        transformNorm.call(nn.functional.gelu(transform.call(hidden))).matmul(encoder.WordEmbeddings.transpose(0, 1)).add(decoderBias, Scalars.One);

    public string Description => $"MiniLM masked LM ({encoder.Normalizer} attention): {encoder.Shape}, {parameters().Sum(p => p.numel()):N0} parameters";

    /// <summary>AdamW decays the matrices (linear maps, embeddings), not biases or LayerNorms.</summary>
    public bool DecaysWeight(string name, Parameter parameter) => parameter.dim() >= 2;

    public long PositionsIn(Tensor inputs) => inputs.numel();

    public void CheckInputs(Tensor inputs)
    {
        long max = inputs.max().item<long>(), min = inputs.min().item<long>();
        if (min < 0 || max >= encoder.Shape.Vocabulary)
            throw new ArgumentException($"inputs hold token ids {min}…{max}; expected 0…{encoder.Shape.Vocabulary - 1}.", nameof(inputs));
    }
}

/// <summary>Moby-Dick (or any text) as word pieces in windows for masked-LM fine-tuning.</summary>
public static class WordPieceCorpus
{
    /// <summary>The word pieces of <paramref name="text"/> (no [CLS] / [SEP]), as int64 ids.</summary>
    public static long[] Encode(MiniLM model, string text) =>
        model.Tokenizer.EncodeToIds(text, addSpecialTokens: false).Select(i => (long)i).ToArray();

    /// <summary>
    /// Consecutive windows of <paramref name="length"/> − 2 pieces of <paramref name="pieces"/>, each as
    /// [CLS] pieces [SEP] (N, length), the last partial window dropped.
    /// </summary>
    public static Tensor Windows(MiniLM model, long[] pieces, int length)
    {
        if (length < 3 || length > model.Encoder.Shape.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length = {length}; expected 3 … {model.Encoder.Shape.MaxPositions}.");
        int body = length - 2, count = pieces.Length / body;
        if (count < 1) throw new ArgumentException($"pieces has {pieces.Length} word pieces; a window needs {body}.", nameof(pieces));
        var ids = new long[count * length];
        for (int w = 0; w < count; w++)
        {
            ids[w * length] = model.Tokenizer.ClassificationTokenId;
            Array.Copy(pieces, (long)w * body, ids, (long)w * length + 1, body);
            ids[w * length + length - 1] = model.Tokenizer.SeparatorTokenId;
        }
        return tensor(ids, new long[] { count, length });
    }

    /// <summary>
    /// BERT's masking of <paramref name="windows"/> (N, L), drawn from <paramref name="seed"/>: each position except
    /// [CLS] and [SEP] is chosen with probability <paramref name="rate"/>; a chosen one becomes [MASK] with probability
    /// 0.8, a uniformly random word piece with 0.1, and stays with 0.1. Targets: the original id where chosen,
    /// <see cref="IDataset.IgnoreIndex"/> elsewhere.
    /// </summary>
    public static TensorDataset Masked(MiniLM model, Tensor windows, long seed, double rate = 0.15)
    {
        if (!(rate > 0 && rate < 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, $"rate = {rate}; expected 0 < rate < 1.");
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var special = windows.eq(Scalars.Of((long)model.Tokenizer.ClassificationTokenId)).logical_or(windows.eq(Scalars.Of((long)model.Tokenizer.SeparatorTokenId)));
        var chosen = rand(windows.shape, generator: generator).lt(Scalars.Of(rate)).logical_and(special.logical_not());
        var action = rand(windows.shape, generator: generator);                       // < 0.8 mask, < 0.9 random, else keep
        var random = randint(0, model.Encoder.Shape.Vocabulary, windows.shape, generator: generator, dtype: ScalarType.Int64);
        var masked = full_like(windows, Scalars.Of((long)model.Tokenizer.MaskingTokenId));
        var replacement = masked.where(action.lt(Scalars.Of(0.8)), random.where(action.lt(Scalars.Of(0.9)), windows));
        var inputs = replacement.where(chosen, windows);
        var targets = windows.where(chosen, full_like(windows, Scalars.Of(IDataset.IgnoreIndex)));
        return new TensorDataset(inputs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }
}
