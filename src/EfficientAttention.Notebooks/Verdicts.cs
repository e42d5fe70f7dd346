using System.Globalization;
using System.Text.Json.Serialization;

namespace EfficientAttention.Notebooks;

/// <summary>One quantity measured over seeds (or repeats): its values, mean and standard error of the mean.</summary>
public sealed record Sample(string Name, IReadOnlyList<double> Values)
{
    public int Count => Values.Count;
    public double Mean => Values.Count == 0 ? double.NaN : Values.Average();
    /// <summary>s / √n with the n − 1 standard deviation; NaN for fewer than two values.</summary>
    public double StandardError => Values.Count < 2 ? double.NaN
        : Math.Sqrt(Values.Sum(v => (v - Mean) * (v - Mean)) / (Values.Count - 1) / Values.Count);

    public static Sample Of(string name, IEnumerable<double> values) => new(name, values.ToArray());

    public string Format(string format = "F3") => $"{Name} {MeanAndError(format)}";

    /// <summary>"mean ± SE" without the name (a table cell); "x (1 seed)" for one value, "–" for none.</summary>
    public string MeanAndError(string format = "F3") => Count switch
    {
        0 => "–",
        1 => $"{Mean.ToString(format, CultureInfo.InvariantCulture)} (1 seed)",
        _ => $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {StandardError.ToString(format, CultureInfo.InvariantCulture)}",
    };

    public override string ToString() => Format();
}

/// <summary>What a claim says about A relative to B.</summary>
public enum Claim
{
    /// <summary>A is better than B (Welch's t: the 95 % interval of the difference excludes 0 on A's side).</summary>
    Beats,
    /// <summary>
    /// A is no worse than B by more than a stated margin (non-inferiority: the one-sided 95 % bound — the 90 % interval's
    /// worse end — lies inside −margin). Being better also satisfies it.
    /// </summary>
    Matches,
}

/// <summary>
/// A verdict as the results files carry it: the claim tested, the numbers, the test and its interval, the outcome
/// ("agrees", "disagrees" or "inconclusive"), how many independently trained models (or repeats) it rests on, and
/// whether the claim is one the paper makes (<see cref="PaperClaim"/>; only those count in a notebook's summary).
/// </summary>
public sealed record Verdict(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("paper")] string Paper,
    [property: JsonPropertyName("ours")] string Ours,
    [property: JsonPropertyName("agrees")] bool? Agrees,
    [property: JsonPropertyName("rule")] string Rule,
    [property: JsonPropertyName("seeds")] int Seeds)
{
    /// <summary>"agrees", "disagrees" or "inconclusive".</summary>
    [JsonPropertyName("outcome")]
    public string Outcome => Agrees switch { true => "agrees", false => "disagrees", null => "inconclusive" };

    /// <summary>True when the claim is one the paper makes; false for our own probes and controls.</summary>
    [JsonPropertyName("paper_claim")] public bool PaperClaim { get; init; } = true;
    /// <summary>"Welch t", "non-inferiority (Welch t, one-sided 5 %)", "one-sided t against a target", …</summary>
    [JsonPropertyName("test")] public string Test { get; init; } = "";
    /// <summary>The equivalence / non-inferiority margin, in the metric's units, where the claim is a match.</summary>
    [JsonPropertyName("margin")] public double? Margin { get; init; }
    /// <summary>The two-sided p-value of Welch's t (null where no test could run).</summary>
    [JsonPropertyName("p")] public double? P { get; init; }
    /// <summary>The interval the decision read: [low, high] of A − B (or of the mean, for a target), and its level.</summary>
    [JsonPropertyName("interval")] public double[]? Interval { get; init; }
    [JsonPropertyName("interval_level")] public double? IntervalLevel { get; init; }
    /// <summary>What the values are: "seeds" (independently trained models), "predictor seeds", "repeats", "runs".</summary>
    [JsonPropertyName("samples")] public string Samples { get; init; } = "seeds";
}

/// <summary>A trained model's held-out quality as the results files carry it (mean over seeds).</summary>
public sealed record ModelSummary(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("standard_error")] double StandardError,
    [property: JsonPropertyName("seeds")] int Seeds,
    [property: JsonPropertyName("per_seed")] IReadOnlyList<double> PerSeed);

/// <summary>
/// The one rule every notebook's verdicts follow (stated in <see cref="Rule"/>). Values are independent: seeds of
/// independently trained models, or repeats of a timing. Differences are judged by Welch's t with the critical value
/// for the Welch–Satterthwaite degrees of freedom (<see cref="Comparison"/>): "A beats B" agrees when the 95 % interval
/// of A − B excludes 0 on A's side, disagrees when it excludes 0 on B's side (or, given a margin, when A's gain is
/// shown smaller than the margin), else inconclusive. "A matches B" needs a margin stated per claim: agrees when A is
/// shown no worse than B − margin (one-sided 5 %), disagrees when A is shown worse by more than the margin, else
/// inconclusive — so noise never earns a match. Fewer than 3 values a side, or fewer than 3 independently trained models
/// behind a claim about trained models, are inconclusive and say so. A chance level blocks a verdict only when both sides
/// are at it (nothing was learned to compare); one side at chance is itself a clear outcome.
/// </summary>
public static class Verdicts
{
    public const int MinimumSeeds = 3;

    public const string Rule = "Welch's t on independent values (≥ 3 a side; trained-model claims need ≥ 3 independently trained models): A beats B when the 95 % interval of A − B excludes 0 on A's side; A matches B when A is shown no worse than B by the claim's margin (one-sided 5 %, the 90 % interval's worse end); disagrees when the interval excludes the claim; otherwise inconclusive; a chance level blocks only when both sides are at it";

    public const string TargetRule = "one-sided t on ≥ 3 independent values: a target is reached when the one-sided 95 % bound of the mean is on the target's good side, missed when the other bound is on its bad side, otherwise inconclusive";

    /// <summary>How A compares with B under the rule: +1 A better, −1 B better, 0 not shown either way.</summary>
    public static int Compare(Sample a, Sample b, bool higherIsBetter = true) =>
        Comparison.Of(a, b).Decide(higherIsBetter) switch { Finding.ABetter => 1, Finding.BBetter => -1, _ => 0 };

    /// <summary>True when <paramref name="s"/>'s mean is on the wrong side of <paramref name="chance"/> or within 2 SE of it.</summary>
    public static bool AtChance(Sample s, double chance, bool higherIsBetter = true) =>
        (s.Mean - chance) * (higherIsBetter ? 1 : -1) <= 2 * (double.IsNaN(s.StandardError) ? 0 : s.StandardError);

    /// <summary>
    /// The verdict on <paramref name="claim"/> about A against B. <paramref name="margin"/>: required for
    /// <see cref="Claim.Matches"/> (in the metric's units). <paramref name="chance"/>: the metric's chance level, if it has
    /// one. <paramref name="samples"/> names the values ("seeds", "repeats", "runs", "predictor seeds");
    /// <paramref name="models"/>: how many independently trained models stand behind each side when the values are not
    /// themselves trained models (e.g. 1 for predictor seeds on one model) — below 3 the verdict is inconclusive.
    /// <paramref name="paperClaim"/>: false for our own probes and controls.
    /// </summary>
    public static Verdict Decide(string id, string statement, string paper, Sample a, Claim claim, Sample b,
                                 bool higherIsBetter = true, double? chance = null, string format = "F3", string samples = "seeds",
                                 double? margin = null, bool paperClaim = true, int? models = null)
    {
        if (claim == Claim.Matches && margin is not > 0)
            throw new ArgumentException($"margin = {margin?.ToString(CultureInfo.InvariantCulture) ?? "null"}; a 'matches' claim needs a margin > 0 in the metric's units (id '{id}').", nameof(margin));
        if (margin is <= 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, $"margin = {margin}; expected > 0.");
        string F(double x) => x.ToString(format, CultureInfo.InvariantCulture);
        var c = Comparison.Of(a, b);
        int n = Math.Min(a.Count, b.Count);
        string test = claim == Claim.Matches ? $"non-inferiority, Welch t (one-sided 5 %), margin {F(margin!.Value)}" : margin is { } m0 ? $"Welch t (two-sided 5 %), margin {F(m0)}" : "Welch t (two-sided 5 %)";
        var verdict = new Verdict(id, statement, paper, "", null, Rule, models ?? n)
        {
            PaperClaim = paperClaim, Test = test, Margin = margin, Samples = samples,
            P = double.IsNaN(c.P) ? null : c.P,
            Interval = double.IsNaN(c.Interval95.Low) ? null : claim == Claim.Matches ? [c.Interval90.Low, c.Interval90.High] : [c.Interval95.Low, c.Interval95.High],
            IntervalLevel = double.IsNaN(c.Interval95.Low) ? null : claim == Claim.Matches ? 0.90 : 0.95,
        };
        string numbers = $"{a.Format(format)} vs {b.Format(format)} ({a.Count}{(a.Count == b.Count ? "" : $" and {b.Count}")} {samples}); {c.Format(format)}";
        string Inconclusive(string why) => $"{numbers}: {why}, inconclusive";
        if (models is { } k && k < MinimumSeeds)
            return verdict with { Ours = Inconclusive($"{k} trained model{(k == 1 ? "" : "s")} behind each side (the {samples} vary only what is built on {(k == 1 ? "it" : "them")}), so a claim about trained models cannot be decided") };
        if (n < MinimumSeeds)
            return verdict with { Ours = Inconclusive($"fewer than {MinimumSeeds} {samples} a side") };
        if (chance is { } ch && AtChance(a, ch, higherIsBetter) && AtChance(b, ch, higherIsBetter))
            return verdict with { Ours = Inconclusive($"both at chance level ({F(ch)})") };
        double sign = higherIsBetter ? 1 : -1;
        // the intervals on the "better" scale: positive means A better
        double lo95 = sign > 0 ? c.Interval95.Low : -c.Interval95.High, hi95 = sign > 0 ? c.Interval95.High : -c.Interval95.Low;
        double lo90 = sign > 0 ? c.Interval90.Low : -c.Interval90.High, hi90 = sign > 0 ? c.Interval90.High : -c.Interval90.Low;
        string better = lo95 > 0 ? $"{a.Name} better" : hi95 < 0 ? $"{b.Name} better" : "no difference shown";
        if (claim == Claim.Beats)
        {
            if (lo95 > 0) return verdict with { Ours = $"{numbers}: {better}", Agrees = true };
            if (hi95 < 0) return verdict with { Ours = $"{numbers}: {better}", Agrees = false };
            if (margin is { } m && hi90 < m) return verdict with { Ours = $"{numbers}: any gain of {a.Name} is shown smaller than the margin {F(m)}", Agrees = false };
            return verdict with { Ours = Inconclusive(better) };
        }
        double mm = margin!.Value;
        if (lo90 > -mm) return verdict with { Ours = $"{numbers}: {a.Name} shown no worse than {b.Name} − {F(mm)} ({better})", Agrees = true };
        if (hi90 < -mm) return verdict with { Ours = $"{numbers}: {a.Name} shown worse by more than the margin {F(mm)}", Agrees = false };
        return verdict with { Ours = Inconclusive($"{better}; the interval reaches past the margin {F(mm)}") };
    }

    /// <summary>
    /// The verdict on a target (e.g. "recall ≥ 0.8 at 90 % sparsity", "slope below 1.5"): one-sided t on ≥ 3 independent
    /// values — reached when the one-sided 95 % bound of the mean is on the target's good side, missed when the opposite
    /// bound is on its bad side, otherwise inconclusive.
    /// </summary>
    public static Verdict Reaches(string id, string statement, string paper, Sample a, double target, bool higherIsBetter = true,
                                  string format = "F3", string samples = "seeds", bool paperClaim = true, int? models = null)
    {
        string F(double x) => x.ToString(format, CultureInfo.InvariantCulture);
        var verdict = new Verdict(id, statement, paper, "", null, TargetRule, models ?? a.Count)
        { PaperClaim = paperClaim, Test = "one-sided t against a target (5 %)", Samples = samples };
        string head = $"{a.Format(format)} ({a.Count} {samples}) against {F(target)}";
        if (a.Count < MinimumSeeds)
            return verdict with { Ours = $"{head}: fewer than {MinimumSeeds} {samples}, inconclusive" };
        double se = a.StandardError, t = MathNet.Numerics.Distributions.StudentT.InvCDF(0, 1, a.Count - 1, 0.95);
        double low = a.Mean - t * se, high = a.Mean + t * se;
        var withInterval = verdict with { Interval = [low, high], IntervalLevel = 0.90 };
        string interval = $"one-sided 95 % bounds [{F(low)}, {F(high)}]";
        if (models is { } k && k < MinimumSeeds)
            return withInterval with { Ours = $"{head}, {interval}: {k} trained model{(k == 1 ? "" : "s")} behind the {samples}, inconclusive" };
        bool reached = higherIsBetter ? low >= target : high <= target;
        bool missed = higherIsBetter ? high < target : low > target;
        return withInterval with
        {
            Ours = $"{head}, {interval}: {(reached ? "reached" : missed ? "not reached" : "inconclusive")}",
            Agrees = reached ? true : missed ? false : null,
        };
    }

    /// <summary>Counts of the papers' claims only: agrees, disagrees, inconclusive (probes and controls left out).</summary>
    public static (int Agrees, int Disagrees, int Inconclusive) Tally(IEnumerable<Verdict> verdicts)
    {
        var paper = verdicts.Where(v => v.PaperClaim).ToList();
        return (paper.Count(v => v.Agrees == true), paper.Count(v => v.Agrees == false), paper.Count(v => v.Agrees is null));
    }

    /// <summary>
    /// Throws unless <paramref name="value"/>, formatted with <paramref name="format"/>, prints as <paramref name="cited"/> —
    /// the check cell behind a sentence that cites a number ("3.8", "97.9 %").
    /// </summary>
    public static void Cites(string cited, double value, string format)
    {
        string printed = value.ToString(format, CultureInfo.InvariantCulture);
        if (printed != cited && printed.Replace(" ", "") != cited.Replace(" ", ""))
            throw new InvalidOperationException($"The text cites {cited}, but this run prints {printed} ({format}). Update the sentence.");
    }

    /// <summary>Throws unless the verdict <paramref name="id"/> has the outcome the prose states — the check cell behind a sentence.</summary>
    public static void Require(IEnumerable<Verdict> verdicts, string id, bool? agrees)
    {
        var verdict = verdicts.FirstOrDefault(v => v.Id == id)
                      ?? throw new ArgumentException($"id = '{id}'; no verdict has that id (have: {string.Join(", ", verdicts.Select(v => v.Id))}).", nameof(id));
        if (verdict.Agrees != agrees)
            throw new InvalidOperationException($"The text says verdict '{id}' {Describe(agrees)}, but this run {verdict.Outcome}: {verdict.Ours}. Update the conclusion.");
    }

    /// <summary>Throws with <paramref name="statement"/> unless <paramref name="holds"/> — for a sentence that cites a number.</summary>
    public static void Check(bool holds, string statement)
    {
        if (!holds) throw new InvalidOperationException($"The text says: \"{statement}\" — this run's numbers do not show it. Update the conclusion.");
    }

    /// <summary>The models table row of a model trained over seeds.</summary>
    public static ModelSummary Summarise(string name, string task, string metric, IEnumerable<double> perSeed)
    {
        var s = Sample.Of(name, perSeed);
        return new ModelSummary(name, task, metric, s.Mean, s.StandardError, s.Count, s.Values);
    }

    private static string Describe(bool? agrees) => agrees switch { true => "agrees", false => "disagrees", null => "is inconclusive" };
}
