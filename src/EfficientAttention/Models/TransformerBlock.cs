using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>
/// Pre-LayerNorm transformer block (as in GPT-2 / ViT):
/// h = x + Dropout(MHA(LN₁(x))),  y = h + Dropout(W₂ GELU(W₁ LN₂(h))).
/// </summary>
public sealed class TransformerBlock : Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1, norm2;
    private readonly MultiHeadAttention attention;
    private readonly Linear up, down;
    private readonly Dropout dropout;

    public TransformerBlock(TransformerConfig config, int layer) : base(nameof(TransformerBlock))
    {
        norm1 = LayerNorm(config.ModelDim);
        attention = new MultiHeadAttention(config.ModelDim, config.Heads, config.AttentionFor(layer), config.ReusedHeadsAt?.Invoke(layer) ?? 0);
        norm2 = LayerNorm(config.ModelDim);
        up = Linear(config.ModelDim, config.MlpDim);
        down = Linear(config.MlpDim, config.ModelDim);
        dropout = Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <summary>The attention sub-layer.</summary>
    public MultiHeadAttention Attention => attention;

    public override Tensor forward(Tensor x) => Forward(x).Output;

    /// <summary>
    /// x (B, L, D) → (B, L, D), and the layer's attention probabilities (B, H, L, L) when asked;
    /// <paramref name="previous"/> is the previous layer's probabilities, for layers that reuse them.
    /// </summary>
    public AttentionResult Forward(Tensor x, AttentionMask? mask = null, Tensor? previous = null, bool withProbabilities = false)
    {
        using var scope = NewDisposeScope();
        var (attended, p) = attention.Forward(norm1.call(x), mask, previous, withProbabilities);   // (B, L, D)
        var h = x.add(dropout.call(attended), Scalars.One);                                   // x + …: see Scalars
        var y = h.add(dropout.call(down.call(functional.gelu(up.call(norm2.call(h))))), Scalars.One);
        return new(y.MoveToOuterDisposeScope(), p?.MoveToOuterDisposeScope());
    }
}

/// <summary>The block stack and final LayerNorm shared by every model head.</summary>
public sealed class TransformerStack : Module<Tensor, Tensor>
{
    private readonly ModuleList<TransformerBlock> blocks;
    private readonly LayerNorm final;

    public TransformerStack(TransformerConfig config) : base(nameof(TransformerStack))
    {
        config.Validate();
        Config = config;
        blocks = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Layers).Select(l => new TransformerBlock(config, l)).ToArray());
        final = LayerNorm(config.ModelDim);
        RegisterComponents();
    }

    public TransformerConfig Config { get; }
    public IReadOnlyList<TransformerBlock> Blocks => blocks.ToList();

    public override Tensor forward(Tensor x) => Forward(x).Output;

    /// <summary>
    /// x (B, L, D) → normalised hidden states (B, L, D); with <paramref name="withProbabilities"/>, also every layer's
    /// attention probabilities from this same pass, stacked as (layers, B, H, L, L).
    /// </summary>
    public AttentionResult Forward(Tensor x, AttentionMask? mask = null, bool withProbabilities = false)
    {
        using var scope = NewDisposeScope();
        var probabilities = new List<Tensor>();
        var list = blocks.ToList();
        Tensor? previous = null;
        Tensor? uniform = Config.UniformReusedMaps ? UniformMaps(x, mask) : null;
        for (int i = 0; i < list.Count; i++)
        {
            bool handOn = i + 1 < list.Count && list[i + 1].Attention.ReusesPrevious;      // the next layer reuses these maps
            (x, previous) = list[i].Forward(x, mask, uniform ?? previous, withProbabilities || handOn);
            if (withProbabilities) probabilities.Add(previous!);
        }
        var maps = withProbabilities ? stack(probabilities).MoveToOuterDisposeScope() : null;
        return new(final.call(x).MoveToOuterDisposeScope(), maps);
    }

    /// <summary>Uniform maps over the allowed keys, (B, H, L, L): row i is 1/|allowed(i)| on its allowed keys (zeros if none).</summary>
    private Tensor UniformMaps(Tensor x, AttentionMask? mask)
    {
        long batch = x.shape[0], length = x.shape[1];
        var allowed = mask?.ToDense(batch, Config.Heads, length, length, x.device)
                      ?? ones(1, 1, length, length, ScalarType.Bool, x.device);
        var weights = allowed.to(x.dtype).expand(batch, Config.Heads, length, length);
        return weights / weights.sum(-1, keepdim: true).clamp_min(Scalars.One);
    }
}
