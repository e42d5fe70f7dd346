namespace EfficientAttention;

/// <summary>
/// The shape of a transformer block stack, shared by every model head. <see cref="Attention"/> picks each layer's
/// attention core and <see cref="ReusedHeadsAt"/> how many heads reuse earlier maps, so a reproduction swaps full,
/// entmax, reuse or Combiner attention per layer without new flags.
/// </summary>
/// <param name="Layers">number of pre-LayerNorm blocks</param>
/// <param name="Heads">attention heads per block</param>
/// <param name="ModelDim">residual stream width D (a multiple of Heads)</param>
/// <param name="MlpDim">hidden width of each block's MLP (commonly 4·D)</param>
/// <param name="Dropout">dropout on embeddings and on each residual branch (0 disables)</param>
/// <param name="MaxLength">longest sequence the learned positions cover</param>
public sealed record TransformerConfig(int Layers, int Heads, int ModelDim, int MlpDim, double Dropout = 0.0, int MaxLength = 1024)
{
    /// <summary>layer index (0-based) → attention core; null: softmax attention (libtorch SDPA) in every layer.</summary>
    public Func<int, IAttention>? Attention { get; init; }

    public IAttention AttentionFor(int layer) => Attention?.Invoke(layer) ?? new ScaledDotProductAttention();

    /// <summary>
    /// layer → K, the heads of that layer that reuse the previous layer's probabilities (Reuse Transformers; −1: all);
    /// null: none anywhere. Set it through <see cref="ReusePolicy.Apply"/>, which validates every layer.
    /// </summary>
    public Func<int, int>? ReusedHeadsAt { get; init; }

    /// <summary>
    /// The control of Reuse Transformers' K-sweep: reusing layers take uniform maps (every allowed key weighted alike)
    /// instead of the previous layer's, so a reused head only averages its values. Set through <see cref="ReusePolicy"/>.
    /// </summary>
    public bool UniformReusedMaps { get; init; }

    public void Validate()
    {
        if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, $"Layers = {Layers}; expected ≥ 1.");
        if (Heads < 1) throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"Heads = {Heads}; expected ≥ 1.");
        if (ModelDim < 1 || ModelDim % Heads != 0)
            throw new ArgumentOutOfRangeException(nameof(ModelDim), ModelDim, $"ModelDim = {ModelDim}; expected a positive multiple of Heads = {Heads}.");
        if (MlpDim < 1) throw new ArgumentOutOfRangeException(nameof(MlpDim), MlpDim, $"MlpDim = {MlpDim}; expected ≥ 1.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"Dropout = {Dropout}; expected 0 ≤ p < 1.");
        if (MaxLength < 1) throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"MaxLength = {MaxLength}; expected ≥ 1.");
    }
}
