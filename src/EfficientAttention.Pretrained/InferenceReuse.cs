using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention.Pretrained;

/// <summary>One head that takes another map instead of its own: in layer <paramref name="Layer"/>, head <paramref name="Head"/> takes head <paramref name="Partner"/> of layer <c>Layer − 1</c>.</summary>
public sealed record HeadReuse(int Layer, int Head, int Partner);

/// <summary>
/// Reuse Transformers' reuse (Bhojanapalli et al., 2021) applied to a pretrained model at inference, without retraining:
/// in every layer ℓ ≥ 1, K of the H heads drop their own map and apply a map of layer ℓ − 1 — the paper's K (heads per
/// layer) with P = every layer but the first. Trained for it, the paper's models learn to use the handed-over maps;
/// here the model was trained with its own maps, so the heads that reuse and what they take are chosen by similarity:
/// in each layer, the K heads whose best match in layer ℓ − 1 is most similar (on a calibration set), each taking that
/// best match. The control puts a uniform map over the real keys on the same heads.
/// </summary>
public static class InferenceReuse
{
    /// <summary>
    /// The plan for <paramref name="k"/> heads per layer from a calibration set's head similarities:
    /// <paramref name="similarity"/>[ℓ][ℓ′] (H × H) as <see cref="PretrainedAnalysis.HeadSimilarity"/> returns them.
    /// </summary>
    public static IReadOnlyList<HeadReuse> Plan(double[][][][] similarity, int k)
    {
        int layers = similarity.Length, heads = similarity[0][0].Length;
        if (k < 0 || k > heads) throw new ArgumentOutOfRangeException(nameof(k), k, $"k = {k}; expected 0 ≤ K ≤ {heads} heads.");
        var plan = new List<HeadReuse>();
        for (int l = 1; l < layers; l++)
        {
            var s = similarity[l][l - 1];                                               // head h of ℓ against head h′ of ℓ − 1
            var best = Enumerable.Range(0, heads).Select(h => (Head: h, Partner: ArgMax(s[h]), Score: s[h].Max()));
            plan.AddRange(best.OrderByDescending(b => b.Score).ThenBy(b => b.Head).Take(k).Select(b => new HeadReuse(l, b.Head, b.Partner)));
        }
        return plan;
    }

    /// <summary>The edit that applies <paramref name="plan"/>: each listed head takes its partner's map from the previous layer (as applied there).</summary>
    public static MapEdit Reuse(IReadOnlyList<HeadReuse> plan) => (layer, computed, previous, _) =>
    {
        var here = plan.Where(r => r.Layer == layer).ToList();
        if (here.Count == 0) return computed;
        if (previous is null) throw new ArgumentException($"plan reuses heads in layer {layer}, which has no previous layer.", nameof(plan));
        var p = computed.clone();
        foreach (var r in here) p[.., r.Head] = previous[.., r.Partner];
        return p;
    };

    /// <summary>The control: each head of <paramref name="plan"/> applies a uniform map over the real keys instead.</summary>
    public static MapEdit Uniform(IReadOnlyList<HeadReuse> plan) => (layer, computed, _, realTokens) =>
    {
        var here = plan.Where(r => r.Layer == layer).ToList();
        if (here.Count == 0) return computed;
        var real = realTokens.to(computed.dtype);                                      // (B, L)
        var uniform = real.div(real.sum(1, keepdim: true)).unsqueeze(1).expand(computed.shape[0], computed.shape[2], computed.shape[3]);   // (B, L, L)
        var p = computed.clone();
        foreach (var r in here) p[.., r.Head] = uniform;
        return p;
    };

    private static int ArgMax(double[] v) => Array.IndexOf(v, v.Max());
}
