using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>
/// Multi-head self-attention around any <see cref="IAttention"/> core — project x to per-head Q, K, V, let the core
/// attend, merge the heads, project back — with Reuse Transformers' option (Bhojanapalli et al., 2021) built in: of the
/// H heads, K reuse the attention probabilities handed over by an earlier layer and H − K compute new ones.
/// <code>
///   new heads  h &lt; H−K :  Pₕ = normalize(x W_Q,h (x W_K,h)ᵀ / √d)      (own Q and K projections; the core)
///   reused heads        :  Pₕ = P_prev,[h − (H−K)]                    (no Q, no K, no QKᵀ)
///   every head          :  Oₕ = Pₕ · x W_V,h ;  output = [O₁ … O_H] W_O
/// </code>
/// K = 0 (the default) is standard multi-head attention; K = H computes no Q·Kᵀ at all. The probabilities handed on are
/// [new heads ‖ reused heads], so a later layer reusing K′ takes the first K′ — the freshest maps. There is no attention
/// dropout, so the maps handed on are the ones applied.
/// </summary>
public sealed class MultiHeadAttention : Module<Tensor, Tensor>
{
    private readonly Linear? query, key;
    private readonly Linear value, output;

    /// <param name="modelDim">D, a multiple of <paramref name="heads"/></param>
    /// <param name="heads">H</param>
    /// <param name="core">how the new heads attend (default: softmax, libtorch's fused kernel unless P is asked for)</param>
    /// <param name="reusedHeads">K, 0 ≤ K ≤ H (−1: all heads): heads that reuse the previous layer's probabilities</param>
    /// <param name="bias">whether the four projections have biases</param>
    public MultiHeadAttention(long modelDim, int heads, IAttention? core = null, int reusedHeads = 0, bool bias = true) : base(nameof(MultiHeadAttention))
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"heads = {heads}; expected ≥ 1.");
        if (modelDim < 1 || modelDim % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(modelDim), modelDim, $"modelDim = {modelDim}; expected a positive multiple of heads = {heads}.");
        if (reusedHeads == -1) reusedHeads = heads;
        if (reusedHeads < 0 || reusedHeads > heads)
            throw new ArgumentOutOfRangeException(nameof(reusedHeads), reusedHeads, $"reusedHeads = {reusedHeads}; expected 0 ≤ K ≤ heads = {heads}, or −1 for all heads.");
        TorchRuntime.EnsureLoaded();
        (ModelDim, Heads, ReusedHeads) = (modelDim, heads, reusedHeads);
        Core = core ?? new ScaledDotProductAttention();
        if (NewHeads > 0)
        {
            query = Linear(modelDim, NewHeads * HeadDim, bias);                       // only the new heads have Q and K
            key = Linear(modelDim, NewHeads * HeadDim, bias);
        }
        value = Linear(modelDim, modelDim, bias);                                     // every head keeps its own V
        output = Linear(modelDim, modelDim, bias);
        RegisterComponents();
        if (Core is nn.Module coreModule) register_module("core", coreModule);       // a learned core moves with the layer
    }

    public long ModelDim { get; }
    public int Heads { get; }
    public long HeadDim => ModelDim / Heads;
    public IAttention Core { get; }

    /// <summary>K: heads that reuse the previous layer's maps.</summary>
    public int ReusedHeads { get; }

    /// <summary>H − K: heads that compute their own maps with <see cref="Core"/>.</summary>
    public int NewHeads => Heads - ReusedHeads;

    /// <summary>True when <see cref="Forward"/> needs the previous layer's probabilities.</summary>
    public bool ReusesPrevious => ReusedHeads > 0;

    /// <summary>Self-attention without a mask: x (B, L, D) → (B, L, D).</summary>
    public override Tensor forward(Tensor x) => Forward(x).Output;

    /// <summary>
    /// Self-attention x (B, L, D) → (B, L, D); <paramref name="previous"/> (B, ≥ K, L, L) is an earlier layer's
    /// probabilities when this layer reuses heads. With <paramref name="withProbabilities"/>, also this layer's
    /// probabilities (B, H, L, L): to analyse, or to hand to the next layer.
    /// </summary>
    public AttentionResult Forward(Tensor x, AttentionMask? mask = null, Tensor? previous = null, bool withProbabilities = false)
    {
        Guard.FloatingTensor(x, nameof(x));
        Guard.Rank(x, 3, nameof(x), "(batch, length, model dim)");
        Guard.Size(x, nameof(x), 2, ModelDim, "model dim of this layer");
        long batch = x.shape[0], length = x.shape[1];
        if (ReusesPrevious) CheckPrevious(previous, batch, length);
        using var scope = NewDisposeScope();
        var v = Split(value.call(x), Heads);                                           // (B, H, L, d)
        var outputs = new List<Tensor>();
        var maps = new List<Tensor>();
        if (NewHeads > 0)
        {
            var q = Split(query!.call(x), NewHeads);                                   // (B, H−K, L, d)
            var k = Split(key!.call(x), NewHeads);
            var (o, p) = Core.Forward(q, k, ReusesPrevious ? v[.., ..NewHeads] : v, mask, withProbabilities);
            outputs.Add(o);
            if (p is not null) maps.Add(p);                                            // (B, H−K, L, L)
        }
        if (ReusesPrevious)
        {
            var reused = previous![.., ..ReusedHeads];                                 // (B, K, L, L): the freshest maps
            outputs.Add(reused.matmul(v[.., NewHeads..]));                             // (B, K, L, d)
            maps.Add(reused);
        }
        var heads = outputs.Count == 1 ? outputs[0] : cat(outputs, 1);                 // (B, H, L, d)
        var y = output.call(heads.transpose(1, 2).reshape(batch, length, ModelDim));    // (B, L, D)
        Tensor? handedOn = withProbabilities ? (maps.Count == 1 ? maps[0] : cat(maps, 1)) : null;
        return new(y.MoveToOuterDisposeScope(), handedOn?.MoveToOuterDisposeScope());
    }

    private void CheckPrevious(Tensor? previous, long batch, long length)
    {
        if (previous is null)
            throw new ArgumentNullException(nameof(previous), $"this layer reuses {ReusedHeads} of {Heads} heads but no probabilities were handed over; layer 0 cannot reuse.");
        if (previous.dim() != 4 || previous.shape[0] != batch || previous.shape[1] < ReusedHeads || previous.shape[2] != length || previous.shape[3] != length)
            throw new ArgumentException($"previous has shape {Guard.Shape(previous)}; expected ({batch}, ≥ {ReusedHeads}, {length}, {length}) = (B, heads ≥ K, L, L).", nameof(previous));
    }

    /// <summary>(B, L, h·d) → (B, h, L, d).</summary>
    private Tensor Split(Tensor t, int heads) => t.view(t.shape[0], t.shape[1], heads, HeadDim).transpose(1, 2);

    public override string ToString() => ReusesPrevious ? $"{Heads}-head attention ({Core}), {ReusedHeads} heads reused" : $"{Heads}-head attention ({Core})";
}
