using CsCheck;
using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>Tensor helpers of the tests: seeded inputs, conversions to plain arrays, closeness assertions, CsCheck score generators.</summary>
internal static class TestTensors
{
    public static Tensor Row(double[] z, ScalarType dtype = ScalarType.Float64) => tensor(z, dtype: ScalarType.Float64).to(dtype);

    public static double[] ToArray(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().flatten().data<double>().ToArray();

    public static double MaxAbsDiff(double[] a, double[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
    }

    public static void Close(double[] expected, double[] actual, double tolerance, string what = "")
    {
        double diff = MaxAbsDiff(expected, actual);
        Assert.True(diff <= tolerance, $"{what}: max |expected − actual| = {diff:E3} > {tolerance:E1}\nexpected [{string.Join(", ", expected.Select(x => x.ToString("G6")))}]\nactual   [{string.Join(", ", actual.Select(x => x.ToString("G6")))}]");
    }

    /// <summary>Scores in [−6, 6] with ~10% −inf (but never all), rows of 1..24 entries.</summary>
    public static readonly Gen<double[]> Scores =
        Gen.Double[-6, 6].Array[1, 24]
           .Select(Gen.Int[0, 9].Array[24], (z, coin) =>
           {
               var r = (double[])z.Clone();
               for (int i = 0; i < r.Length; i++) if (coin[i] == 0) r[i] = double.NegativeInfinity;
               if (r.All(double.IsNegativeInfinity)) r[0] = z[0];
               return r;
           });

    /// <summary>
    /// Finite scores of rows of 2..12 entries with no entry within 1e-3 of the kink (α−1)z_i = τ of any α used in the
    /// tests: at a kink the map is not differentiable and central differences straddle two pieces.
    /// </summary>
    public static readonly Gen<double[]> FiniteScores = Gen.Double[-3, 3].Array[2, 12].Where(z =>
        new[] { 1.25, 1.5, 2.0, 3.0 }.All(alpha =>
        {
            double tau = Reference.EntmaxThreshold(z, alpha);
            return z.All(x => Math.Abs((alpha - 1) * x - tau) > 1e-3);
        }));

    public static Tensor Randn(long seed, params long[] shape)
    {
        var g = new Generator((ulong)seed);
        return randn(shape, ScalarType.Float64, generator: g);
    }

    /// <summary>(rows, cols) slice of a (B, H, Lq, X) tensor as a 2-D array.</summary>
    public static double[,] Slice(Tensor t, long b, long h)
    {
        var s = t[b, h].detach().to(ScalarType.Float64).contiguous();
        long rows = s.shape[0], cols = s.shape[1];
        var data = s.data<double>().ToArray();
        var r = new double[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) r[i, j] = data[i * cols + j];
        return r;
    }

    public static double[] Flat(double[,] a) => a.Cast<double>().ToArray();
}
