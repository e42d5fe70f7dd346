using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>
/// Multi-head attention around any <see cref="IAttention"/> core: project x to per-head Q, K, V, let the core attend,
/// merge the heads and project back. The core decides how attention is computed (full, sparse, reuse, Combiner).
/// </summary>
public sealed class MultiHeadAttention : Module<Tensor, Tensor>, IAttentionModule
{
    private readonly Linear query, key, value, output;

    public MultiHeadAttention(long modelDim, int heads, IAttention core, bool bias = true) : base(nameof(MultiHeadAttention))
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"heads = {heads}; expected ≥ 1.");
        if (modelDim < 1 || modelDim % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(modelDim), modelDim, $"modelDim = {modelDim}; expected a positive multiple of heads = {heads}.");
        TorchRuntime.EnsureLoaded();
        ModelDim = modelDim;
        Heads = heads;
        Core = core ?? throw new ArgumentNullException(nameof(core));
        query = Linear(modelDim, modelDim, bias);
        key = Linear(modelDim, modelDim, bias);
        value = Linear(modelDim, modelDim, bias);
        output = Linear(modelDim, modelDim, bias);
        RegisterComponents();
    }

    public long ModelDim { get; }
    public int Heads { get; }
    public long HeadDim => ModelDim / Heads;
    public IAttention Core { get; }

    /// <summary>Self-attention without a mask: x (B, L, D) → (B, L, D).</summary>
    public override Tensor forward(Tensor x) => Forward(x, x, null);

    /// <summary>Self-attention: x (B, L, D) → (B, L, D).</summary>
    public Tensor Forward(Tensor x, AttentionMask? mask) => Forward(x, x, mask);

    /// <summary>Attention of <paramref name="x"/> (B, Lq, D) over <paramref name="memory"/> (B, Lk, D) → (B, Lq, D).</summary>
    public Tensor Forward(Tensor x, Tensor memory, AttentionMask? mask)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Project(x, memory);
        return output.call(MergeHeads(Core.Forward(q, k, v, mask))).MoveToOuterDisposeScope();  // (B, Lq, D)
    }

    /// <summary>Self-attention that also returns the core's probabilities (B, H, L, L); the core must provide them.</summary>
    public (Tensor Output, Tensor Probabilities) ForwardWithProbabilities(Tensor x, AttentionMask? mask = null)
    {
        if (Core is not IAttentionWithProbabilities withProbabilities)
            throw new InvalidOperationException($"The attention core {Core.GetType().Name} does not return probabilities; use a core that implements {nameof(IAttentionWithProbabilities)}.");
        using var scope = NewDisposeScope();
        var (q, k, v) = Project(x, x);
        var (heads, p) = withProbabilities.ForwardWithProbabilities(q, k, v, mask);
        return (output.call(MergeHeads(heads)).MoveToOuterDisposeScope(), p.MoveToOuterDisposeScope());
    }

    public bool ReusesPrevious => false;

    /// <summary>Self-attention as a block's sub-layer; <paramref name="previous"/> is ignored.</summary>
    public (Tensor Output, Tensor? Probabilities) Forward(Tensor x, AttentionMask? mask, Tensor? previous, bool needProbabilities)
        => needProbabilities && Core is IAttentionWithProbabilities ? ForwardWithProbabilities(x, mask) : (Forward(x, mask), null);

    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x, Tensor memory)
    {
        CheckInput(x, nameof(x));
        CheckInput(memory, nameof(memory));
        if (memory.shape[0] != x.shape[0])
            throw new ArgumentException($"memory has shape {Guard.Shape(memory)} but x has {Guard.Shape(x)}; expected the same batch size.", nameof(memory));
        return (SplitHeads(query.call(x)), SplitHeads(key.call(memory)), SplitHeads(value.call(memory)));
    }

    private void CheckInput(Tensor t, string name)
    {
        Guard.FloatingTensor(t, name);
        Guard.Rank(t, 3, name, "(batch, length, model dim)");
        Guard.Size(t, name, 2, ModelDim, "model dim of this layer");
    }

    /// <summary>(B, L, D) → (B, H, L, D/H).</summary>
    public Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], Heads, HeadDim).transpose(1, 2);

    /// <summary>(B, H, L, D/H) → (B, L, D).</summary>
    public Tensor MergeHeads(Tensor x) => x.transpose(1, 2).reshape(x.shape[0], x.shape[2], ModelDim);

    protected override void Dispose(bool disposing)
    {
        if (disposing) { query.Dispose(); key.Dispose(); value.Dispose(); output.Dispose(); }
        base.Dispose(disposing);
    }
}
