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
/// model uses. With a sparsity floor, each head takes the closest map among the temperatures that leave at least that share
/// of its (real) pairs at exactly zero — matching the pretrained maps only as far as Sparsefinder's regime allows.
/// </summary>
public static class TemperatureCalibration
{
    /// <summary>The default grid: 14 values from 0.05 to 1 in equal ratios.</summary>
    public static readonly double[] DefaultGrid = Enumerable.Range(0, 14).Select(i => Math.Round(0.05 * Math.Pow(20, i / 13.0), 4)).ToArray();

    /// <summary>Per layer and head: the temperature chosen, the total-variation distance before (s = 1) and after, and the share of exact zeros after.</summary>
    public sealed record Result(double[][] Scale, double[][] DistanceBefore, double[][] DistanceAfter, double[][] SparsityAfter);

    /// <summary>
    /// Calibrates <paramref name="entmax"/> (same weights as <paramref name="softmax"/>, a sparse normalizer) on token ids
    /// (B, L) with <paramref name="realTokens"/>; scales its query projections in place and returns what it chose.
    /// <paramref name="minSparsity"/>: null, the closest map; otherwise the closest map among the temperatures whose map
    /// has at least this share of exact zeros (the sparsest temperature when none does).
    /// </summary>
    public static Result Calibrate(BertEncoder entmax, BertEncoder softmax, Tensor ids, Tensor realTokens, IReadOnlyList<double>? grid = null, double? minSparsity = null)
    {
        grid ??= DefaultGrid;
        if (minSparsity is { } floor && !(floor >= 0 && floor < 1))
            throw new ArgumentOutOfRangeException(nameof(minSparsity), minSparsity, $"minSparsity = {floor}; expected 0 ≤ s < 1 (a share of pairs).");
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
        var zerosAfter = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            var measured = grid.Select(s => { ScaleQueries(entmax, l, Enumerable.Repeat(s, heads).ToArray()); var d = Distance(entmax, ids, realTokens, target, l); ScaleQueries(entmax, l, Enumerable.Repeat(1 / s, heads).ToArray()); return d; }).ToList();
            before[l] = Distance(entmax, ids, realTokens, target, l).Distance;
            scale[l] = new double[heads];
            after[l] = new double[heads];
            zerosAfter[l] = new double[heads];
            for (int h = 0; h < heads; h++)
            {
                var allowed = Enumerable.Range(0, grid.Count).Where(i => minSparsity is null || measured[i].Zeros[h] >= minSparsity).ToList();
                int best = allowed.Count > 0 ? allowed.MinBy(i => measured[i].Distance[h]) : Enumerable.Range(0, grid.Count).MaxBy(i => measured[i].Zeros[h]);
                (scale[l][h], after[l][h], zerosAfter[l][h]) = (grid[best], measured[best].Distance[h], measured[best].Zeros[h]);
            }
            ScaleQueries(entmax, l, scale[l]);
        }
        return new Result(scale, before, after, zerosAfter);
    }

    /// <summary>
    /// Per head of layer <paramref name="layer"/>: the mean total-variation distance between the model's maps and
    /// <paramref name="target"/> over real query rows, and the share of (real query, real key) pairs at exactly zero.
    /// </summary>
    private static (double[] Distance, double[] Zeros) Distance(BertEncoder model, Tensor ids, Tensor realTokens, Tensor target, int layer)
    {
        using var scope = NewDisposeScope();
        var maps = model.Forward(ids, realTokens, withProbabilities: true).Probabilities!;               // (layers, B, H, L, L)
        var tv = maps[layer].sub(target[layer]).abs().sum(-1).mul(Scalars.Of(0.5));                       // (B, H, L)
        var rows = realTokens.to(ScalarType.Float64).unsqueeze(1);                                        // (B, 1, L)
        var mean = tv.to(ScalarType.Float64).mul(rows).sum(new long[] { 0, 2 }).div(rows.sum());
        var pairs = rows.unsqueeze(-1).mul(realTokens.to(ScalarType.Float64).unsqueeze(1).unsqueeze(2));                 // (B, 1, L, L)
        var zeros = maps[layer].eq(Scalars.Zero).to(ScalarType.Float64).mul(pairs).sum(new long[] { 0, 2, 3 }).div(pairs.sum());
        return (mean.data<double>().ToArray(), zeros.data<double>().ToArray());
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
