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
    private readonly nn.Module attention;
    private readonly Linear up, down;
    private readonly Dropout dropout;

    public TransformerBlock(TransformerConfig config, int layer) : base(nameof(TransformerBlock))
    {
        norm1 = LayerNorm(config.ModelDim);
        var module = config.AttentionModule?.Invoke(layer) ?? new MultiHeadAttention(config.ModelDim, config.Heads, config.AttentionFor(layer));
        attention = module as nn.Module ?? throw new ArgumentException($"config.AttentionModule returned a {module.GetType().Name} for layer {layer}; expected an nn.Module implementing IAttentionModule.", nameof(config));
        norm2 = LayerNorm(config.ModelDim);
        up = Linear(config.ModelDim, config.MlpDim);
        down = Linear(config.MlpDim, config.ModelDim);
        dropout = Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <summary>The attention sub-layer (a <see cref="MultiHeadAttention"/> unless the config supplies another module).</summary>
    public IAttentionModule Attention => (IAttentionModule)attention;

    public override Tensor forward(Tensor x) => Forward(x, null, null, false).Output;

    /// <summary>
    /// x (B, L, D) → (B, L, D), and the layer's attention probabilities (B, H, L, L) when asked and available;
    /// <paramref name="previous"/> is the previous layer's probabilities, for layers that reuse them.
    /// </summary>
    public (Tensor Output, Tensor? Probabilities) Forward(Tensor x, AttentionMask? mask, Tensor? previous, bool withProbabilities)
    {
        using var scope = NewDisposeScope();
        var (attended, p) = Attention.Forward(norm1.call(x), mask, previous, withProbabilities);   // (B, L, D)
        var h = x + dropout.call(attended);
        var y = h + dropout.call(down.call(functional.gelu(up.call(norm2.call(h)))));
        return (y.MoveToOuterDisposeScope(), p?.MoveToOuterDisposeScope());
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

    public override Tensor forward(Tensor x) => Forward(x, null, false).Hidden;

    /// <summary>
    /// x (B, L, D) → normalised hidden states (B, L, D); with <paramref name="collectProbabilities"/>, also each layer's
    /// attention probabilities (B, H, L, L) from this same pass (null for a layer whose core does not expose them).
    /// </summary>
    public (Tensor Hidden, IReadOnlyList<Tensor?> Probabilities) Forward(Tensor x, AttentionMask? mask, bool collectProbabilities)
    {
        using var scope = NewDisposeScope();
        var probabilities = new List<Tensor?>();
        var list = blocks.ToList();
        Tensor? previous = null;
        for (int i = 0; i < list.Count; i++)
        {
            bool handOn = i + 1 < list.Count && list[i + 1].Attention.ReusesPrevious;      // the next layer reuses these maps
            var (next, p) = list[i].Forward(x, mask, previous, collectProbabilities || handOn);
            x = next;
            previous = p;
            if (collectProbabilities) probabilities.Add(p?.MoveToOuterDisposeScope());
        }
        return (final.call(x).MoveToOuterDisposeScope(), probabilities);
    }
}
