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
    public void A_beats_B_only_when_the_welch_interval_excludes_zero()
    {
        var b = S("b", 0.80, 0.81, 0.79);
        Assert.Equal(1, Verdicts.Compare(S("a", 0.90, 0.91, 0.89), b));
        Assert.Equal(0, Verdicts.Compare(S("a", 0.81, 0.82, 0.80), b));
        Assert.Equal(-1, Verdicts.Compare(S("a", 0.70, 0.71, 0.69), b));
        Assert.Equal(1, Verdicts.Compare(S("a", 2.0, 2.1, 1.9), S("b", 3.0, 3.1, 2.9), higherIsBetter: false));   // bits: lower is better
        // a gap of 2.45 SE with 3 seeds a side (df 4, t 2.78): "> 2 SE" called it a win, Welch does not
        var gap = Verdicts.Decide("x", "c", "p", S("a", 1.0, 1.1, 1.2), Claim.Beats, S("b", 0.8, 0.9, 1.0));
        Assert.Null(gap.Agrees);
        Assert.Equal("inconclusive", gap.Outcome);
        Assert.Equal(0.0705, gap.P!.Value, 4);
    }

    [Fact]
    public void A_match_needs_its_margin_and_noise_never_earns_it()
    {
        var baseline = S("K=0", 0.880, 0.885, 0.875);
        var close = S("K=2", 0.879, 0.884, 0.874);
        Assert.Throws<ArgumentException>(() => Verdicts.Decide("x", "c", "p", close, Claim.Matches, baseline));
        var matched = Verdicts.Decide("x", "c", "p", close, Claim.Matches, baseline, margin: 0.01);
        Assert.True(matched.Agrees);
        Assert.Equal(0.01, matched.Margin);
        Assert.Equal(0.90, matched.IntervalLevel);
        Assert.True(matched.Interval![0] > -0.01);
        Assert.Null(Verdicts.Decide("x", "c", "p", close, Claim.Matches, baseline, margin: 0.002).Agrees);   // interval reaches past it
        Assert.False(Verdicts.Decide("x", "c", "p", S("K=4", 0.80, 0.81, 0.79), Claim.Matches, baseline, margin: 0.01).Agrees);
        var noisy = Verdicts.Decide("x", "c", "p", S("noisy", 0.70, 0.95, 0.85), Claim.Matches, baseline, margin: 0.01);
        Assert.Null(noisy.Agrees);                                                                           // "no difference detected" is not a match
        Assert.True(Verdicts.Decide("x", "c", "p", S("better", 0.95, 0.96, 0.94), Claim.Matches, baseline, margin: 0.01).Agrees);
        Assert.Null(Verdicts.Decide("x", "c", "p", close, Claim.Beats, baseline).Agrees);
        Assert.False(Verdicts.Decide("x", "c", "p", close, Claim.Beats, baseline, margin: 0.01).Agrees);       // gain shown below the margin
    }

    [Fact]
    public void No_spread_is_exact_and_one_value_or_one_model_is_inconclusive()
    {
        var exact = Verdicts.Decide("x", "c", "p", S("a", 1, 1, 1), Claim.Beats, S("b", 0.9, 0.9, 0.9));
        Assert.True(exact.Agrees);                                         // SE = 0 both sides: the difference is exact
        Assert.Equal(new[] { 0.1, 0.1 }, exact.Interval!.Select(x => Math.Round(x, 12)));
        var one = Verdicts.Decide("x", "c", "p", S("a", 0.9), Claim.Beats, S("b", 0.5, 0.6, 0.7));
        Assert.Null(one.Agrees);
        Assert.Contains("fewer than 3 seeds", one.Ours);
        Assert.Null(one.P);
        var predictors = Verdicts.Decide("x", "c", "p", S("routed", 2.2, 2.21, 2.19), Claim.Beats, S("window", 2.5, 2.51, 2.49),
            higherIsBetter: false, samples: "predictor seeds", models: 1);
        Assert.Null(predictors.Agrees);
        Assert.Equal(1, predictors.Seeds);
        Assert.Contains("1 trained model", predictors.Ours);
    }

    [Fact]
    public void Chance_blocks_only_when_both_sides_are_at_it()
    {
        var both = Verdicts.Decide("x", "c", "p", S("tiny", 0.101, 0.099, 0.100), Claim.Matches, S("also", 0.1, 0.1, 0.1), chance: 0.1, margin: 0.01);
        Assert.Null(both.Agrees);
        Assert.Contains("chance", both.Ours);
        var learned = Verdicts.Decide("x", "c", "p", S("routed", 0.12, 0.10, 0.14), Claim.Beats, S("k-means", 0.98, 0.97, 0.99), chance: 0.1);
        Assert.False(learned.Agrees);                                     // one side learned: a clear outcome
        Assert.True(Verdicts.Decide("x", "c", "p", S("C-Axial", 1, 1, 1), Claim.Beats, S("Axial", 0.1, 0.17, 0.24), chance: 0.1).Agrees);
    }

    [Fact]
    public void A_target_is_reached_when_the_one_sided_bound_clears_it()
    {
        Assert.True(Verdicts.Reaches("t", "c", "p", S("recall", 0.85, 0.86, 0.84), 0.8).Agrees);
        Assert.Null(Verdicts.Reaches("t", "c", "p", S("recall", 0.79, 0.82, 0.80), 0.8).Agrees);            // mean above, bound below
        Assert.False(Verdicts.Reaches("t", "c", "p", S("recall", 0.70, 0.71, 0.69), 0.8).Agrees);
        Assert.True(Verdicts.Reaches("t", "c", "p", S("slope", 1.09, 1.10, 1.11), 1.5, higherIsBetter: false).Agrees);
        Assert.Null(Verdicts.Reaches("t", "c", "p", S("recall", 0.9, 0.9), 0.8).Agrees);
        Assert.Contains("not reached", Verdicts.Reaches("t", "c", "p", S("recall", 0.5, 0.5, 0.5), 0.8).Ours);
        Assert.Null(Verdicts.Reaches("t", "c", "p", S("recall", 0.9, 0.91, 0.92), 0.8, samples: "predictor seeds", models: 1).Agrees);
    }

    [Fact]
    public void The_tally_counts_only_the_papers_claims_and_cited_numbers_must_print_as_cited()
    {
        var a = S("a", 1, 1.1, 0.9); var b = S("b", 0, 0.1, -0.1);
        var verdicts = new[]
        {
            Verdicts.Decide("paper", "c", "p", a, Claim.Beats, b),
            Verdicts.Decide("probe", "c", "p", b, Claim.Beats, a, paperClaim: false),
            Verdicts.Decide("one", "c", "p", S("x", 1), Claim.Beats, b),
        };
        Assert.Equal((1, 0, 1), Verdicts.Tally(verdicts));
        Verdicts.Cites("3.8", 3.79, "F1");
        Verdicts.Cites("97.9 %", 0.9791, "P1");
        Assert.Throws<InvalidOperationException>(() => Verdicts.Cites("3.8", 3.70, "F1"));
        string json = System.Text.Json.JsonSerializer.Serialize(verdicts[0]);
        foreach (var field in new[] { "\"test\"", "\"p\"", "\"interval\"", "\"seeds\"", "\"paper_claim\"", "\"outcome\"" })
            Assert.Contains(field, json);
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
