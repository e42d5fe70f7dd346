namespace EfficientAttention.Notebooks.Tests;

/// <summary>The comparison rule pinned on hand-made samples (expected values from SciPy 1.10: scipy.stats.t, ttest_ind(equal_var=False)).</summary>
public class StatisticsTests
{
    private static Sample S(params double[] v) => Sample.Of("s", v);

    [Fact]
    public void Welch_matches_the_textbook_numbers()
    {
        // a = (1, 2, 3), b = (4, 5, 6, 7): difference −3.5, SE √(1/3 + (5/3)/4) = 0.8660, df = 4.9592 (Welch–Satterthwaite)
        var c = Comparison.Of(S(1, 2, 3), S(4, 5, 6, 7));
        Assert.Equal(-3.5, c.Difference, 12);
        Assert.Equal(Math.Sqrt(1.0 / 3 + 5.0 / 3 / 4), c.StandardError, 12);
        Assert.Equal(4.9592, c.DegreesOfFreedom, 3);
        Assert.Equal(0.01008, c.P, 4);                             // SciPy: p = 0.0100769
        Assert.Equal(-5.7317, c.Interval95.Low, 3);               // SciPy: 95 % CI [−5.73171, −1.26829]
        Assert.Equal(-1.2683, c.Interval95.High, 3);
        Assert.Equal(Finding.BBetter, c.Decide());
        Assert.Equal(Finding.ABetter, c.Decide(higherIsBetter: false));
    }

    [Fact]
    public void A_gap_of_two_standard_errors_with_three_seeds_is_not_enough()
    {
        // n = 3 each: df ≈ 4, t(0.975, 4) = 2.78 — a 2.4-SE gap is inconclusive under t, though "> 2 SE" called it a win.
        var c = Comparison.Of(S(1.0, 1.1, 1.2), S(0.8, 0.9, 1.0));
        Assert.Equal(2.449, 0.2 / c.StandardError, 3);
        Assert.Equal((4.0, 0.0705), (Math.Round(c.DegreesOfFreedom, 6), Math.Round(c.P, 4)));   // SciPy: df 4, p = 0.07048
        Assert.Equal(Finding.Inconclusive, c.Decide());
    }

    [Fact]
    public void Equivalence_needs_the_90_percent_interval_inside_the_margin_and_noise_never_earns_it()
    {
        var precise = Comparison.Of(S(0.500, 0.502, 0.498, 0.501), S(0.499, 0.501, 0.500, 0.502));
        Assert.Equal(Finding.Equivalent, precise.Decide(margin: 0.01));
        var noisy = Comparison.Of(S(0.40, 0.60, 0.50), S(0.45, 0.55, 0.70));
        Assert.Equal(Finding.Inconclusive, noisy.Decide(margin: 0.01));     // no difference detected is not a match
        var apart = Comparison.Of(S(0.50, 0.51, 0.49), S(0.60, 0.61, 0.59));
        Assert.Equal(Finding.BBetter, apart.Decide(margin: 0.01));
        Assert.Throws<ArgumentOutOfRangeException>(() => precise.Decide(margin: 0));
    }

    [Fact]
    public void One_value_a_side_cannot_be_compared_and_no_spread_at_all_is_taken_as_exact()
    {
        var single = Comparison.Of(S(0.9), S(0.5, 0.6, 0.7));
        Assert.True(double.IsNaN(single.StandardError));
        Assert.Equal(Finding.Inconclusive, single.Decide());
        Assert.Contains("too few", single.Format());
        var exact = Comparison.Of(S(2, 2, 2), S(1, 1, 1));
        Assert.Equal((0.0, 1.0, 1.0), (exact.StandardError, exact.Interval95.Low, exact.Interval95.High));
        Assert.Equal(Finding.ABetter, exact.Decide());
        Assert.Equal(Finding.Equivalent, Comparison.Of(S(1, 1), S(1, 1)).Decide(margin: 0.1));
    }
}
