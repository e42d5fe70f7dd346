using System.Globalization;
using MathNet.Numerics.Distributions;

namespace EfficientAttention.Notebooks;

/// <summary>What a comparison of A with B found.</summary>
public enum Finding
{
    /// <summary>A is better than B: the 95 % confidence interval of the difference excludes 0 on A's side.</summary>
    ABetter,
    /// <summary>B is better than A.</summary>
    BBetter,
    /// <summary>The 90 % interval of the difference lies inside ±margin (two one-sided tests at 5 %): equivalent.</summary>
    Equivalent,
    /// <summary>Neither: the data cannot tell (too few independent values, or an interval too wide).</summary>
    Inconclusive,
}

/// <summary>
/// A comparison of two samples of independent values (seeds of independently trained models, or repeats) by Welch's t:
/// the difference of means A − B, its standard error √(s²_A/n_A + s²_B/n_B), the Welch–Satterthwaite degrees of
/// freedom, the two-sided p-value, the 95 % interval (for "A beats B") and the 90 % interval (for equivalence within a
/// margin, TOST at 5 %). Built by <see cref="Of"/>.
/// </summary>
public sealed record Comparison(double Difference, double StandardError, double DegreesOfFreedom, double P,
                                (double Low, double High) Interval95, (double Low, double High) Interval90, int CountA, int CountB)
{
    /// <summary>
    /// Welch's t on <paramref name="a"/> and <paramref name="b"/>. Each side needs ≥ 2 values to estimate its spread;
    /// with fewer the comparison is <see cref="Finding.Inconclusive"/> (NaN intervals). Two sides with no spread at all
    /// (every value equal on both) give a zero-width interval: the difference is then taken as exact — which is only
    /// honest for deterministic quantities, so <see cref="Decide"/> callers must pass independently obtained values.
    /// </summary>
    public static Comparison Of(Sample a, Sample b)
    {
        double difference = a.Mean - b.Mean;
        if (a.Count < 2 || b.Count < 2)
            return new(difference, double.NaN, double.NaN, double.NaN, (double.NaN, double.NaN), (double.NaN, double.NaN), a.Count, b.Count);
        double va = Variance(a) / a.Count, vb = Variance(b) / b.Count, se = Math.Sqrt(va + vb);
        if (se == 0)
            return new(difference, 0, double.PositiveInfinity, difference == 0 ? 1 : 0, (difference, difference), (difference, difference), a.Count, b.Count);
        double df = (va + vb) * (va + vb) / (va * va / (a.Count - 1) + vb * vb / (b.Count - 1));
        double t95 = StudentT.InvCDF(0, 1, df, 0.975), t90 = StudentT.InvCDF(0, 1, df, 0.95);
        double p = 2 * (1 - StudentT.CDF(0, 1, df, Math.Abs(difference) / se));
        return new(difference, se, df, p, (difference - t95 * se, difference + t95 * se), (difference - t90 * se, difference + t90 * se), a.Count, b.Count);
    }

    /// <summary>
    /// A beats B (<paramref name="higherIsBetter"/> says which direction is better) when the 95 % interval excludes 0
    /// on A's side; B beats A when it excludes 0 on B's side; with a <paramref name="margin"/>, equivalent when the
    /// 90 % interval lies inside ±margin; otherwise inconclusive.
    /// </summary>
    public Finding Decide(bool higherIsBetter = true, double? margin = null)
    {
        if (double.IsNaN(Interval95.Low)) return Finding.Inconclusive;
        double sign = higherIsBetter ? 1 : -1;
        double low = sign > 0 ? Interval95.Low : -Interval95.High, high = sign > 0 ? Interval95.High : -Interval95.Low;
        if (margin is { } m)
        {
            if (m <= 0) throw new ArgumentOutOfRangeException(nameof(margin), m, $"margin = {m}; expected > 0.");
            if (Interval90.Low > -m && Interval90.High < m) return Finding.Equivalent;
        }
        return low > 0 ? Finding.ABetter : high < 0 ? Finding.BBetter : Finding.Inconclusive;
    }

    /// <summary>"difference −0.012, 95 % CI [−0.020, −0.004], Welch t, df 3.6, p = 0.013".</summary>
    public string Format(string format = "F3")
    {
        string F(double x) => x.ToString(format, CultureInfo.InvariantCulture);
        if (double.IsNaN(StandardError)) return $"difference {F(Difference)}; {CountA} vs {CountB} values: too few to estimate the spread";
        return $"difference {F(Difference)}, 95 % CI [{F(Interval95.Low)}, {F(Interval95.High)}], Welch t, df {DegreesOfFreedom.ToString("F1", CultureInfo.InvariantCulture)}, p = {P.ToString("F3", CultureInfo.InvariantCulture)}";
    }

    private static double Variance(Sample s) => s.Values.Sum(v => (v - s.Mean) * (v - s.Mean)) / (s.Count - 1);
}
