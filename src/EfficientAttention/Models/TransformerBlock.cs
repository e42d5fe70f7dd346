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
        attention = new MultiHeadAttention(config.ModelDim, config.Heads, config.AttentionFor(layer));
        norm2 = LayerNorm(config.ModelDim);
        up = Linear(config.ModelDim, config.MlpDim);
        down = Linear(config.MlpDim, config.ModelDim);
        dropout = Dropout(config.Dropout);
        RegisterComponents();
    }

    public MultiHeadAttention Attention => attention;

    public override Tensor forward(Tensor x) => Forward(x, null, false).Output;

    /// <summary>x (B, L, D) → (B, L, D), and the layer's attention probabilities (B, H, L, L) when asked and available.</summary>
    public (Tensor Output, Tensor? Probabilities) Forward(Tensor x, AttentionMask? mask, bool withProbabilities)
    {
        using var scope = NewDisposeScope();
        Tensor? p = null;
        Tensor attended;
        if (withProbabilities && attention.Core is IAttentionWithProbabilities)
            (attended, p) = attention.ForwardWithProbabilities(norm1.call(x), mask);
        else
            attended = attention.Forward(norm1.call(x), mask);                     // (B, L, D)
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
        foreach (var block in blocks)
        {
            var (next, p) = block.Forward(x, mask, collectProbabilities);
            x = next;
            if (collectProbabilities) probabilities.Add(p?.MoveToOuterDisposeScope());
        }
        return (final.call(x).MoveToOuterDisposeScope(), probabilities);
    }
}
