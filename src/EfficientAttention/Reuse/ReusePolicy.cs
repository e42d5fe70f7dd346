namespace EfficientAttention;

/// <summary>
/// Which layers reuse how many heads. Layer 0 never reuses (there is nothing before it); layers
/// <see cref="FirstLayer"/>…<see cref="LastLayer"/> reuse <see cref="ReusedHeads"/> heads (−1: all), unless
/// <see cref="PerLayer"/> says otherwise; later layers compute all their heads.
/// </summary>
public sealed record ReusePolicy(int ReusedHeads, int LastLayer, int FirstLayer = 1)
{
    /// <summary>Per-layer overrides of K (layer → K, −1: all heads).</summary>
    public IReadOnlyDictionary<int, int>? PerLayer { get; init; }

    /// <summary>The control: reusing layers take uniform maps instead of the previous layer's (see <see cref="TransformerConfig.UniformReusedMaps"/>).</summary>
    public bool Uniform { get; init; }

    /// <summary>The authors' default: reuse in the first half of the model (layers 1 … L/2 − 1 of L).</summary>
    public static ReusePolicy FirstHalf(int layers, int reusedHeads) => new(reusedHeads, LastLayer: layers / 2 - 1);

    /// <summary>No reuse anywhere (the baseline).</summary>
    public static ReusePolicy None { get; } = new(0, LastLayer: 0);

    /// <summary>K for <paramref name="layer"/> of a model with <paramref name="heads"/> heads per layer.</summary>
    public int ReusedAt(int layer, int heads)
    {
        int k = PerLayer is not null && PerLayer.TryGetValue(layer, out var overridden) ? overridden
              : layer >= FirstLayer && layer <= LastLayer ? ReusedHeads : 0;
        if (k == -1) k = heads;
        if (k < 0 || k > heads)
            throw new ArgumentOutOfRangeException(nameof(ReusedHeads), k, $"layer {layer} would reuse K = {k} heads; expected 0 ≤ K ≤ heads = {heads} (or −1 for all).");
        if (layer == 0 && k > 0)
            throw new ArgumentOutOfRangeException(nameof(FirstLayer), layer, "layer 0 cannot reuse attention: no earlier layer hands it maps (start at FirstLayer ≥ 1).");
        return k;
    }

    /// <summary>The config whose layers reuse heads per this policy (<see cref="MultiHeadAttention.ReusedHeads"/>).</summary>
    public TransformerConfig Apply(TransformerConfig config)
    {
        config.Validate();
        for (int l = 0; l < config.Layers; l++) ReusedAt(l, config.Heads);          // validate every layer up front
        return config with { ReusedHeadsAt = layer => ReusedAt(layer, config.Heads), UniformReusedMaps = Uniform };
    }

    public override string ToString() =>
        (PerLayer is null ? $"K = {ReusedHeads} in layers {FirstLayer}–{LastLayer}" : $"K per layer: {string.Join(", ", PerLayer.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"))}")
        + (Uniform ? ", uniform maps" : "");
}
