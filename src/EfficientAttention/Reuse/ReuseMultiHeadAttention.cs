using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>
/// Reuse multi-head attention (Bhojanapalli et al., 2021): of H heads, K reuse the post-softmax attention
/// probabilities handed over by an earlier layer and H − K compute new ones.
/// <code>
///   new heads  h &lt; H−K :  Pₕ = softmax(x W_Q,h (x W_K,h)ᵀ / √d)        (own Q and K projections)
///   reused heads        :  Pₕ = P_prev,[h − (H−K)]                    (no Q, no K, no QKᵀ)
///   every head          :  Oₕ = Pₕ · x W_V,h ;  output = [O₁ … O_H] W_O
/// </code>
/// The probabilities handed on are [new heads ‖ reused heads], so a later layer reusing K′ takes the first K′ — the
/// freshest maps. K = 0 is standard multi-head attention; K = H computes no Q·Kᵀ at all. There is no attention dropout,
/// so the maps handed on are the ones applied.
/// </summary>
public sealed class ReuseMultiHeadAttention : Module<Tensor, Tensor>, IAttentionModule
{
    private readonly Linear? query, key;
    private readonly Linear value, output;
    private readonly IAttentionWithProbabilities core;

    /// <param name="modelDim">D, a multiple of <paramref name="heads"/></param>
    /// <param name="heads">H</param>
    /// <param name="reusedHeads">K, 0 ≤ K ≤ H (−1: all heads)</param>
    /// <param name="core">attention of the new heads (default: softmax, materialising P so it can be handed on)</param>
    public ReuseMultiHeadAttention(long modelDim, int heads, int reusedHeads, IAttentionWithProbabilities? core = null) : base(nameof(ReuseMultiHeadAttention))
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"heads = {heads}; expected ≥ 1.");
        if (modelDim < 1 || modelDim % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(modelDim), modelDim, $"modelDim = {modelDim}; expected a positive multiple of heads = {heads}.");
        if (reusedHeads == -1) reusedHeads = heads;
        if (reusedHeads < 0 || reusedHeads > heads)
            throw new ArgumentOutOfRangeException(nameof(reusedHeads), reusedHeads, $"reusedHeads = {reusedHeads}; expected 0 ≤ K ≤ heads = {heads}, or −1 for all heads.");
        TorchRuntime.EnsureLoaded();
        (ModelDim, Heads, ReusedHeads) = (modelDim, heads, reusedHeads);
        this.core = core ?? new ScaledDotProductAttention(Normalizer.Softmax, useFusedKernel: false);
        if (NewHeads > 0)
        {
            query = Linear(modelDim, NewHeads * HeadDim);                            // only the new heads have Q and K
            key = Linear(modelDim, NewHeads * HeadDim);
        }
        value = Linear(modelDim, modelDim);                                          // every head keeps its own V
        output = Linear(modelDim, modelDim);
        RegisterComponents();
    }

    public long ModelDim { get; }
    public int Heads { get; }
    public int ReusedHeads { get; }
    public int NewHeads => Heads - ReusedHeads;
    public long HeadDim => ModelDim / Heads;
    public bool ReusesPrevious => ReusedHeads > 0;

    public override Tensor forward(Tensor x) => Forward(x, null, null, false).Output;

    public (Tensor Output, Tensor? Probabilities) Forward(Tensor x, AttentionMask? mask, Tensor? previous, bool needProbabilities)
    {
        Guard.FloatingTensor(x, nameof(x));
        Guard.Rank(x, 3, nameof(x), "(batch, length, model dim)");
        Guard.Size(x, nameof(x), 2, ModelDim, "model dim of this layer");
        long batch = x.shape[0], length = x.shape[1];
        if (ReusedHeads > 0)
        {
            if (previous is null)
                throw new ArgumentNullException(nameof(previous), $"this layer reuses {ReusedHeads} of {Heads} heads but no probabilities were handed over; layer 0 cannot reuse.");
            if (previous.dim() != 4 || previous.shape[0] != batch || previous.shape[1] < ReusedHeads || previous.shape[2] != length || previous.shape[3] != length)
                throw new ArgumentException($"previous has shape {Guard.Shape(previous)}; expected ({batch}, ≥ {ReusedHeads}, {length}, {length}) = (B, heads ≥ K, L, L).", nameof(previous));
        }
        using var scope = NewDisposeScope();
        var v = Split(value.call(x), Heads);                                           // (B, H, L, d)
        var outputs = new List<Tensor>();
        var maps = new List<Tensor>();
        if (NewHeads > 0)
        {
            var q = Split(query!.call(x), NewHeads);                                   // (B, H−K, L, d)
            var k = Split(key!.call(x), NewHeads);
            var vNew = v[.., ..NewHeads];
            if (needProbabilities)
            {
                var (o, p) = core.ForwardWithProbabilities(q, k, vNew, mask);         // P: (B, H−K, L, L)
                outputs.Add(o); maps.Add(p);
            }
            else outputs.Add(core.Forward(q, k, vNew, mask));
        }
        if (ReusedHeads > 0)
        {
            var reused = previous![.., ..ReusedHeads];                                 // (B, K, L, L): the freshest maps
            outputs.Add(reused.matmul(v[.., NewHeads..]));                             // (B, K, L, d)
            maps.Add(reused);
        }
        var heads = outputs.Count == 1 ? outputs[0] : cat(outputs, 1);                 // (B, H, L, d)
        var y = output.call(heads.transpose(1, 2).reshape(batch, length, ModelDim));    // (B, L, D)
        Tensor? handedOn = needProbabilities ? (maps.Count == 1 ? maps[0] : cat(maps, 1)) : null;
        return (y.MoveToOuterDisposeScope(), handedOn?.MoveToOuterDisposeScope());
    }

    private Tensor Split(Tensor t, int heads) => t.view(t.shape[0], t.shape[1], heads, HeadDim).transpose(1, 2);
}
