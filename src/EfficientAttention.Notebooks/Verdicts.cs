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

/// <summary>What the paper says about A relative to B.</summary>
public enum Claim
{
    /// <summary>A is better than B.</summary>
    Beats,
    /// <summary>A is no worse than B (equal or better quality).</summary>
    Matches,
}

/// <summary>A verdict as the results files carry it.</summary>
public sealed record Verdict(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("paper")] string Paper,
    [property: JsonPropertyName("ours")] string Ours,
    [property: JsonPropertyName("agrees")] bool? Agrees,
    [property: JsonPropertyName("rule")] string Rule,
    [property: JsonPropertyName("seeds")] int Seeds)
{
    /// <summary>"agrees", "disagrees" or "not decided".</summary>
    public string Outcome => Agrees switch { true => "agrees", false => "disagrees", null => "not decided" };
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
/// The one rule every notebook's verdicts follow. With mean ± standard error over ≥ 3 seeds for A and for B, and the
/// difference's standard error SE = √(SE_A² + SE_B²): <b>A beats B</b> only when A is better by more than 2 SE;
/// otherwise no difference is detected. A paper's "A beats B" agrees only when A beats B here; its "A matches B"
/// (no loss) agrees unless B beats A here. Fewer than 3 seeds, or either side at chance level (within 2 SE of the
/// chance value, or worse), decide nothing: <c>agrees</c> is null.
/// </summary>
public static class Verdicts
{
    public const int MinimumSeeds = 3;

    public const string Rule = "A beats B when A is better by > 2·√(SE_A² + SE_B²) (mean ± SE over ≥ 3 seeds); otherwise no difference detected; chance-level results decide nothing";

    /// <summary>How A compares with B under the rule: +1 A better, −1 B better, 0 no difference detected.</summary>
    public static int Compare(Sample a, Sample b, bool higherIsBetter = true)
    {
        double difference = (a.Mean - b.Mean) * (higherIsBetter ? 1 : -1);
        double margin = 2 * Math.Sqrt(Square(a.StandardError) + Square(b.StandardError));
        return difference > margin ? 1 : difference < -margin ? -1 : 0;
    }

    /// <summary>True when <paramref name="s"/> is within 2 SE of <paramref name="chance"/> or on its wrong side.</summary>
    public static bool AtChance(Sample s, double chance, bool higherIsBetter = true) =>
        (s.Mean - chance) * (higherIsBetter ? 1 : -1) <= 2 * (double.IsNaN(s.StandardError) ? 0 : s.StandardError);

    /// <summary>
    /// The verdict on the paper's <paramref name="claim"/> about A against B. <paramref name="chance"/>: the metric's
    /// chance level, if it has one (a model at chance never agrees). <paramref name="samples"/> names what the values
    /// are ("seeds"; "repeats" for timings).
    /// </summary>
    public static Verdict Decide(string id, string statement, string paper, Sample a, Claim claim, Sample b,
                                 bool higherIsBetter = true, double? chance = null, string format = "F3", string samples = "seeds")
    {
        int seeds = Math.Min(a.Count, b.Count);
        double difference = a.Mean - b.Mean, se = Math.Sqrt(Square(a.StandardError) + Square(b.StandardError));
        string numbers = $"{a.Format(format)} vs {b.Format(format)} ({seeds} {samples}); difference {difference.ToString(format, CultureInfo.InvariantCulture)}, 2 SE = {(2 * se).ToString(format, CultureInfo.InvariantCulture)}";
        if (seeds < MinimumSeeds)
            return new Verdict(id, statement, paper, $"{numbers}: fewer than {MinimumSeeds} {samples}, not decided", null, Rule, seeds);
        if (chance is { } c && (AtChance(a, c, higherIsBetter) || AtChance(b, c, higherIsBetter)))
            return new Verdict(id, statement, paper, $"{numbers}: {(AtChance(a, c, higherIsBetter) ? a.Name : b.Name)} is at chance level ({c.ToString(format, CultureInfo.InvariantCulture)}), not decided", null, Rule, seeds);
        int outcome = Compare(a, b, higherIsBetter);
        string found = outcome switch { 1 => $"{a.Name} better", -1 => $"{b.Name} better", _ => "no difference detected" };
        bool agrees = claim == Claim.Beats ? outcome == 1 : outcome >= 0;
        return new Verdict(id, statement, paper, $"{numbers}: {found}", agrees, Rule, seeds);
    }

    /// <summary>
    /// The verdict on a target the paper reports (e.g. "recall ≥ 0.8 at 90 % sparsity"): agrees when the mean over ≥ 3
    /// seeds reaches <paramref name="target"/>, disagrees when it falls short; fewer seeds decide nothing.
    /// </summary>
    public static Verdict Reaches(string id, string statement, string paper, Sample a, double target, bool higherIsBetter = true, string format = "F3", string samples = "seeds")
    {
        string t = target.ToString(format, CultureInfo.InvariantCulture);
        if (a.Count < MinimumSeeds)
            return new Verdict(id, statement, paper, $"{a.Format(format)} ({a.Count} {samples}) against {t}: fewer than {MinimumSeeds} {samples}, not decided", null, TargetRule, a.Count);
        bool reached = higherIsBetter ? a.Mean >= target : a.Mean <= target;
        return new Verdict(id, statement, paper, $"{a.Format(format)} ({a.Count} {samples}) against {t}: {(reached ? "reached" : "not reached")}", reached, TargetRule, a.Count);
    }

    public const string TargetRule = "a target is reached when the mean over ≥ 3 seeds (or repeats, for timings) reaches it";

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

    private static string Describe(bool? agrees) => agrees switch { true => "agrees", false => "disagrees", null => "is not decided" };

    private static double Square(double x) => double.IsNaN(x) ? 0 : x * x;
}
