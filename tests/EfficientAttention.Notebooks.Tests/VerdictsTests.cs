using EfficientAttention.Notebooks;

namespace EfficientAttention.Notebooks.Tests;

public class VerdictsTests
{
    private static Sample S(string name, params double[] values) => Sample.Of(name, values);

    [Fact]
    public void Standard_error_is_the_sample_sd_over_root_n()
    {
        var s = S("a", 1, 2, 3, 4);
        Assert.Equal(2.5, s.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 3 / 4), s.StandardError, 12);           // sd² = 5/3 with n − 1
        Assert.True(double.IsNaN(S("one", 1).StandardError));
        Assert.Equal("2.50 ± 0.65", s.MeanAndError("F2"));
        Assert.Equal("a 2.50 ± 0.65", s.Format("F2"));
        Assert.Equal("–", S("none").MeanAndError());
        Assert.Equal("1.0 (1 seed)", S("one", 1).MeanAndError("F1"));
    }

    [Fact]
    public void A_beats_B_only_beyond_two_standard_errors()
    {
        // SE_a = SE_b = 0.01/√3·… ; difference 0.1 ≫ 2 SE → beats; difference 0.01 → no difference detected.
        var b = S("b", 0.80, 0.81, 0.79);
        Assert.Equal(1, Verdicts.Compare(S("a", 0.90, 0.91, 0.89), b));
        Assert.Equal(0, Verdicts.Compare(S("a", 0.81, 0.82, 0.80), b));
        Assert.Equal(-1, Verdicts.Compare(S("a", 0.70, 0.71, 0.69), b));
        Assert.Equal(1, Verdicts.Compare(S("a", 2.0, 2.1, 1.9), S("b", 3.0, 3.1, 2.9), higherIsBetter: false));   // bits: lower is better
    }

    [Fact]
    public void Claims_agree_disagree_or_stay_undecided_by_the_rule()
    {
        var baseline = S("K=0", 0.880, 0.885, 0.875);
        Assert.True(Verdicts.Decide("x", "c", "p", S("K=2", 0.879, 0.884, 0.874), Claim.Matches, baseline).Agrees);
        Assert.False(Verdicts.Decide("x", "c", "p", S("K=2", 0.879, 0.884, 0.874), Claim.Beats, baseline).Agrees);
        Assert.False(Verdicts.Decide("x", "c", "p", S("K=4", 0.80, 0.81, 0.79), Claim.Matches, baseline).Agrees);
        Assert.Null(Verdicts.Decide("x", "c", "p", S("K=2", 0.9, 0.9), Claim.Matches, baseline).Agrees);          // 2 seeds
        var chance = Verdicts.Decide("x", "c", "p", S("tiny", 0.101, 0.099, 0.100), Claim.Matches, S("also", 0.1, 0.1, 0.1), chance: 0.1);
        Assert.Null(chance.Agrees);                                                                            // never "agrees" at chance
        Assert.Contains("chance", chance.Ours);
        Assert.Contains("3 seeds", Verdicts.Decide("x", "c", "p", baseline, Claim.Beats, S("b", 0.5, 0.51, 0.52)).Ours);
    }

    [Fact]
    public void A_target_is_reached_by_the_mean_of_three_seeds()
    {
        Assert.True(Verdicts.Reaches("t", "c", "p", S("recall", 0.79, 0.82, 0.80), 0.8).Agrees);             // mean 0.8033
        Assert.False(Verdicts.Reaches("t", "c", "p", S("recall", 0.79, 0.80, 0.80), 0.8).Agrees);
        Assert.True(Verdicts.Reaches("t", "c", "p", S("ratio", 1.2, 1.25, 1.3), 1.25, higherIsBetter: false).Agrees);
        Assert.Null(Verdicts.Reaches("t", "c", "p", S("recall", 0.9, 0.9), 0.8).Agrees);
        Assert.Contains("not reached", Verdicts.Reaches("t", "c", "p", S("recall", 0.5, 0.5, 0.5), 0.8).Ours);
    }

    [Fact]
    public void Require_fails_when_the_prose_and_the_numbers_part()
    {
        var verdicts = new[] { Verdicts.Decide("v1", "c", "p", S("a", 1, 1.1, 0.9), Claim.Beats, S("b", 0, 0.1, -0.1)) };
        Verdicts.Require(verdicts, "v1", true);
        var error = Assert.Throws<InvalidOperationException>(() => Verdicts.Require(verdicts, "v1", false));
        Assert.Contains("v1", error.Message);
        Assert.Throws<ArgumentException>(() => Verdicts.Require(verdicts, "nope", true));
        Assert.Throws<InvalidOperationException>(() => Verdicts.Check(false, "trained maps are more similar"));
    }
}
