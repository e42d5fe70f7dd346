using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention.Pretrained;

/// <summary>
/// Replaces attention maps while the encoder runs: given the layer index, the maps this layer computed (B, H, L, L) and
/// the maps the previous layer applied (null at layer 0), returns the maps this layer applies. Reuse at inference is
/// one such edit (<see cref="InferenceReuse"/>).
/// </summary>
public delegate Tensor MapEdit(int layer, Tensor computed, Tensor? previous, Tensor keyPadding);

/// <summary>
/// A BERT encoder (Devlin et al., 2019) built from the library's parts: word + position + token-type embeddings and
/// LayerNorm, then post-LN blocks
/// <code>
///   a = LN(x + Attention(x) W_O)        Attention: softmax(Q Kᵀ/√d + mask) V per head (the library's ScaledDotProductAttention)
///   x = LN(a + GELU(a W₁) W₂)           GELU with erf, as BERT
/// </code>
/// Padding keys are masked exactly (probability 0). Returns the last hidden states and every layer's probabilities
/// through <see cref="AttentionResult"/>: Output (B, L, D), Probabilities (layers, B, H, L, L).
/// </summary>
public sealed class BertEncoder : Module<Tensor, Tensor>
{
    private readonly Embedding words, positions, tokenTypes;
    private readonly LayerNorm embeddingNorm;
    private readonly ModuleList<BertLayer> layers;

    /// <summary>
    /// The encoder with <paramref name="weights"/> (e.g. <see cref="BertWeights.FromOnnx"/>), in eval mode; its attention
    /// normalizes with <paramref name="normalizer"/> (softmax, as trained, by default; 1.5-entmax for Sparsefinder's regime).
    /// </summary>
    public BertEncoder(BertWeights weights, Normalizer? normalizer = null) : this(weights.Shape, normalizer)
    {
        using (no_grad())
        {
            foreach (var (name, parameter) in named_parameters())
            {
                var (values, shape) = weights[HuggingFaceName(name)];
                if (!shape.SequenceEqual(parameter.shape))
                    throw new InvalidDataException($"weight {HuggingFaceName(name)} has shape [{string.Join(", ", shape)}]; expected [{string.Join(", ", parameter.shape)}] for {name}.");
                parameter.copy_(tensor(values).view(shape));
            }
        }
    }

    /// <summary>
    /// The same architecture at BERT's initialisation (weights N(0, 0.02²), biases 0, LayerNorm γ = 1, β = 0), from
    /// <paramref name="seed"/>: the untrained control.
    /// </summary>
    public static BertEncoder Untrained(BertShape shape, long seed)
    {
        var encoder = new BertEncoder(shape);
        using var generator = new Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, parameter) in encoder.named_parameters())
            {
                if (name.EndsWith(".bias", StringComparison.Ordinal)) parameter.zero_();
                else if (name.Contains("Norm", StringComparison.Ordinal)) parameter.fill_(Scalars.One);
                else parameter.copy_(randn(parameter.shape, generator: generator).mul_(Scalars.Of(0.02)));
            }
        return encoder;
    }

    private BertEncoder(BertShape shape, Normalizer? normalizer = null) : base(nameof(BertEncoder))
    {
        TorchRuntime.EnsureLoaded();
        Shape = shape;
        Normalizer = normalizer ?? Normalizer.Softmax;
        words = Embedding(Shape.Vocabulary, Shape.ModelDim);
        positions = Embedding(Shape.MaxPositions, Shape.ModelDim);
        tokenTypes = Embedding(Shape.TokenTypes, Shape.ModelDim);
        embeddingNorm = LayerNorm(Shape.ModelDim, Shape.LayerNormEpsilon);
        layers = new ModuleList<BertLayer>(Enumerable.Range(0, Shape.Layers).Select(_ => new BertLayer(Shape, Normalizer)).ToArray());
        RegisterComponents();
        eval();
    }

    public BertShape Shape { get; }

    /// <summary>The word embedding matrix (V, D), which a masked-LM head ties its decoder to.</summary>
    public Tensor WordEmbeddings => words.weight!;

    /// <summary>How every head turns scores into probabilities.</summary>
    public Normalizer Normalizer { get; }

    /// <summary>
    /// Encodes token ids (B, L) int64 with <paramref name="realTokens"/> (B, L) bool (false: padding) and optional token
    /// types (B, L) (default 0). With <paramref name="withProbabilities"/>, also every layer's maps (layers, B, H, L, L);
    /// <paramref name="edit"/> may replace a layer's maps before they are applied.
    /// </summary>
    public AttentionResult Forward(Tensor ids, Tensor realTokens, Tensor? typeIds = null, bool withProbabilities = false, MapEdit? edit = null) =>
        Run(ids, realTokens, typeIds, withProbabilities, edit, hidden: null);

    /// <summary>Every layer's output hidden states (B, L, D), first layer first (the embeddings not included).</summary>
    public IReadOnlyList<Tensor> HiddenStates(Tensor ids, Tensor realTokens, Tensor? typeIds = null, MapEdit? edit = null)
    {
        var hidden = new List<Tensor>();
        using (Run(ids, realTokens, typeIds, false, edit, hidden).Output) return hidden;
    }

    /// <summary>
    /// Every layer's queries and keys (B, H, L, d) as its attention core receives them, and its maps (B, H, L, L): what
    /// Sparsefinder's projections learn from. Detached, no gradient.
    /// </summary>
    public IReadOnlyList<(Tensor Queries, Tensor Keys, Tensor Probabilities)> QueriesAndKeys(Tensor ids, Tensor realTokens)
    {
        using var _ = no_grad();
        var observed = new List<(Tensor, Tensor)>();
        var result = Run(ids, realTokens, null, true, null, null, observed);
        result.Output.Dispose();
        using var maps = result.Probabilities!;
        return observed.Select((qk, l) => (qk.Item1, qk.Item2, maps[l].clone())).ToList();
    }

    /// <summary>
    /// Replaces layer <paramref name="layer"/>'s attention core (e.g. routed entmax over a predicted graph); null restores
    /// the model's own (scaled dot product with <see cref="Normalizer"/>). The weights are not touched.
    /// </summary>
    public void UseAttention(int layer, IAttention? core)
    {
        if (layer < 0 || layer >= layers.Count) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer = {layer}; expected 0 … {layers.Count - 1}.");
        layers[layer].Core = core;
    }

    private AttentionResult Run(Tensor ids, Tensor realTokens, Tensor? typeIds, bool withProbabilities, MapEdit? edit, List<Tensor>? hidden, List<(Tensor, Tensor)>? observed = null)
    {
        Guard.Rank(ids, 2, nameof(ids), "(batch, length)");
        if (ids.dtype != ScalarType.Int64) throw new ArgumentException($"ids has dtype {ids.dtype}; expected Int64 token ids.", nameof(ids));
        long batch = ids.shape[0], length = ids.shape[1];
        if (length > Shape.MaxPositions)
            throw new ArgumentException($"ids has {length} positions; expected at most {Shape.MaxPositions} (the model's position embeddings).", nameof(ids));
        if (realTokens.dtype != ScalarType.Bool || realTokens.dim() != 2 || realTokens.shape[0] != batch || realTokens.shape[1] != length)
            throw new ArgumentException($"realTokens has shape {Guard.Shape(realTokens)} and dtype {realTokens.dtype}; expected Bool ({batch}, {length}).", nameof(realTokens));
        using var scope = NewDisposeScope();
        var position = Scalars.Arange(length, ids.device).unsqueeze(0);
        var x = words.call(ids).add(positions.call(position), Scalars.One).add(tokenTypes.call(typeIds ?? zeros_like(ids)), Scalars.One);
        x = embeddingNorm.call(x);
        var mask = new AttentionMask { KeyPadding = realTokens };
        var maps = new List<Tensor>();
        Tensor? previous = null;
        for (int l = 0; l < layers.Count; l++)
        {
            (x, var p) = layers[l].Forward(x, mask, realTokens, l, previous, edit, keepMaps: withProbabilities, observed);
            previous = p;
            if (withProbabilities) maps.Add(p!);
            hidden?.Add(x.detach().MoveToOuterDisposeScope());
        }
        var probabilities = withProbabilities ? stack(maps).MoveToOuterDisposeScope() : null;
        return new AttentionResult(x.MoveToOuterDisposeScope(), probabilities);
    }

    public override Tensor forward(Tensor ids) { using var real = ones_like(ids, ScalarType.Bool); return Forward(ids, real).Output; }

    /// <summary>This module's parameter name → the Hugging Face name it is read from.</summary>
    internal static string HuggingFaceName(string name)
    {
        var match = System.Text.RegularExpressions.Regex.Match(name, @"^layers\.(\d+)\.(\w+)\.(weight|bias)$");
        if (match.Success)
            return $"encoder.layer.{match.Groups[1].Value}.{LayerParts[match.Groups[2].Value]}.{match.Groups[3].Value}";
        var (module, parameter) = (name[..name.IndexOf('.')], name[(name.IndexOf('.') + 1)..]);
        return $"embeddings.{EmbeddingParts[module]}.{parameter}";
    }

    private static readonly Dictionary<string, string> EmbeddingParts = new()
    {
        ["words"] = "word_embeddings", ["positions"] = "position_embeddings", ["tokenTypes"] = "token_type_embeddings", ["embeddingNorm"] = "LayerNorm",
    };

    private static readonly Dictionary<string, string> LayerParts = new()
    {
        ["query"] = "attention.self.query", ["key"] = "attention.self.key", ["value"] = "attention.self.value",
        ["attentionOutput"] = "attention.output.dense", ["attentionNorm"] = "attention.output.LayerNorm",
        ["intermediate"] = "intermediate.dense", ["output"] = "output.dense", ["outputNorm"] = "output.LayerNorm",
    };

    private sealed class BertLayer : Module<Tensor, Tensor>
    {
        private readonly Linear query, key, value, attentionOutput, intermediate, output;
        private readonly LayerNorm attentionNorm, outputNorm;
        private readonly ScaledDotProductAttention own;

        /// <summary>A replacement attention core (<see cref="UseAttention"/>); null: the layer's own.</summary>
        public IAttention? Core { get; set; }
        private readonly int heads;

        public BertLayer(BertShape shape, Normalizer normalizer) : base(nameof(BertLayer))
        {
            heads = shape.Heads;
            own = new ScaledDotProductAttention(normalizer);
            (query, key, value) = (Linear(shape.ModelDim, shape.ModelDim), Linear(shape.ModelDim, shape.ModelDim), Linear(shape.ModelDim, shape.ModelDim));
            attentionOutput = Linear(shape.ModelDim, shape.ModelDim);
            attentionNorm = LayerNorm(shape.ModelDim, shape.LayerNormEpsilon);
            intermediate = Linear(shape.ModelDim, shape.MlpDim);
            output = Linear(shape.MlpDim, shape.ModelDim);
            outputNorm = LayerNorm(shape.ModelDim, shape.LayerNormEpsilon);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward(x, mask, …)");

        public (Tensor Hidden, Tensor? Probabilities) Forward(Tensor x, AttentionMask mask, Tensor realTokens, int index, Tensor? previous, MapEdit? edit, bool keepMaps, List<(Tensor, Tensor)>? observed = null)
        {
            IAttention core = Core ?? own;
            long batch = x.shape[0], length = x.shape[1], d = x.shape[2] / heads;
            Tensor Split(Tensor t) => t.view(batch, length, heads, d).transpose(1, 2);
            var (q, k, v) = (Split(query.call(x)), Split(key.call(x)), Split(value.call(x)));
            observed?.Add((q.detach().clone().MoveToOuterDisposeScope(), k.detach().clone().MoveToOuterDisposeScope()));
            Tensor o, p;
            if (keepMaps || edit is not null)
            {
                p = core.Forward(q, k, v, mask, withProbabilities: true).Probabilities!;
                if (edit is not null) p = edit(index, p, previous, realTokens);
                o = p.matmul(v);
            }
            else (o, p) = (core.Forward(q, k, v, mask).Output, null!);                  // training: softmax takes the fused kernel
            o = o.transpose(1, 2).reshape(batch, length, heads * d);
            var a = attentionNorm.call(attentionOutput.call(o).add(x, Scalars.One));
            var h = output.call(nn.functional.gelu(intermediate.call(a)));
            return (outputNorm.call(h.add(a, Scalars.One)), p);
        }
    }
}
