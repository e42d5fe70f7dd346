using static TorchSharp.torch;

namespace EfficientAttention.Pretrained;

/// <summary>
/// Starting a softmax-pretrained model on 1.5-entmax close to where it was: 1.5-entmax(z) = [z/2 − τ]₊², so on the same
/// scores it keeps far fewer keys than softmax gave weight to (on MiniLM, 95 % zeros and a total-variation distance of
/// 0.43–0.65 from the pretrained maps; the last hidden states' cosine to the pretrained ones falls to 0.78). Each head's
/// scores get a temperature s (z ↦ s·z) chosen from a grid so that its entmax map is closest, in total variation, to
/// its pretrained softmax map on calibration text. Layers are calibrated in order (a layer's maps depend only on the
/// layers below it, and heads of one layer do not affect each other's maps), and s is folded into the query projection
/// (its rows and bias for that head), so the architecture stays BERT with 1.5-entmax and Sparsefinder sees the q the
/// model uses.
/// </summary>
public static class TemperatureCalibration
{
    /// <summary>The default grid: 14 values from 0.05 to 1 in equal ratios.</summary>
    public static readonly double[] DefaultGrid = Enumerable.Range(0, 14).Select(i => Math.Round(0.05 * Math.Pow(20, i / 13.0), 4)).ToArray();

    /// <summary>Per layer and head: the temperature chosen and the total-variation distance before (s = 1) and after.</summary>
    public sealed record Result(double[][] Scale, double[][] DistanceBefore, double[][] DistanceAfter);

    /// <summary>
    /// Calibrates <paramref name="entmax"/> (same weights as <paramref name="softmax"/>, a sparse normalizer) on token ids
    /// (B, L) with <paramref name="realTokens"/>; scales its query projections in place and returns what it chose.
    /// </summary>
    public static Result Calibrate(BertEncoder entmax, BertEncoder softmax, Tensor ids, Tensor realTokens, IReadOnlyList<double>? grid = null)
    {
        grid ??= DefaultGrid;
        if (grid.Count == 0 || grid.Any(s => !(s > 0)))
            throw new ArgumentException($"grid = [{string.Join(", ", grid)}]; expected positive temperatures.", nameof(grid));
        if (entmax.Normalizer == Normalizer.Softmax)
            throw new ArgumentException("entmax has softmax attention; expected a sparse normalizer (the model to calibrate).", nameof(entmax));
        using var _ = no_grad();
        using var target = softmax.Forward(ids, realTokens, withProbabilities: true).Probabilities!;       // (layers, B, H, L, L)
        using var keyWeights = realTokens.to(ScalarType.Float32);
        int layers = entmax.Shape.Layers, heads = entmax.Shape.Heads;
        var scale = new double[layers][];
        var before = new double[layers][];
        var after = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            var distances = grid.Select(s => { ScaleQueries(entmax, l, Enumerable.Repeat(s, heads).ToArray()); var d = Distance(entmax, ids, realTokens, target, l); ScaleQueries(entmax, l, Enumerable.Repeat(1 / s, heads).ToArray()); return d; }).ToList();
            before[l] = Distance(entmax, ids, realTokens, target, l);
            scale[l] = new double[heads];
            after[l] = new double[heads];
            for (int h = 0; h < heads; h++)
            {
                int best = Enumerable.Range(0, grid.Count).MinBy(i => distances[i][h]);
                (scale[l][h], after[l][h]) = (grid[best], distances[best][h]);
            }
            ScaleQueries(entmax, l, scale[l]);
        }
        return new Result(scale, before, after);
    }

    /// <summary>Mean total-variation distance per head of layer <paramref name="layer"/> between the model's maps and <paramref name="target"/>, over real query rows.</summary>
    private static double[] Distance(BertEncoder model, Tensor ids, Tensor realTokens, Tensor target, int layer)
    {
        using var scope = NewDisposeScope();
        var maps = model.Forward(ids, realTokens, withProbabilities: true).Probabilities!;               // (layers, B, H, L, L)
        var tv = maps[layer].sub(target[layer]).abs().sum(-1).mul(Scalars.Of(0.5));                       // (B, H, L)
        var rows = realTokens.to(ScalarType.Float64).unsqueeze(1);                                        // (B, 1, L)
        var mean = tv.to(ScalarType.Float64).mul(rows).sum(new long[] { 0, 2 }).div(rows.sum());
        return mean.data<double>().ToArray();
    }

    private static void ScaleQueries(BertEncoder model, int layer, double[] perHead)
    {
        int d = model.Shape.HeadDim;
        var factors = tensor(perHead.SelectMany(s => Enumerable.Repeat((float)s, d)).ToArray());         // (D) one per query row
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name == $"layers.{layer}.query.weight") parameter.mul_(factors.unsqueeze(1));
            else if (name == $"layers.{layer}.query.bias") parameter.mul_(factors);
        }
        factors.Dispose();
    }
}
