namespace EfficientAttention;

/// <summary>Where a long loop stands: step <see cref="Step"/> of <see cref="Total"/> (0: the opening line).</summary>
public sealed record ProgressReport(string Description, int Step, int Total, string Status)
{
    /// <summary>"train: 102,080 parameters" for the opening line, "train 50/1000 loss …" after.</summary>
    public override string ToString() => Step == 0 ? $"{Description}: {Status}" : $"{Description} {Step}/{Total} {Status}";
}

/// <summary>
/// Progress as plain lines, written synchronously on the training thread (unlike <see cref="Progress{T}"/>, which posts
/// to a synchronisation context): to the writer given, or to whatever <see cref="Console.Out"/> is at each report — a
/// terminal, a log, or the notebook cell that is running.
/// </summary>
public sealed class LineProgress(TextWriter? writer = null) : IProgress<ProgressReport>
{
    /// <summary>Lines to the console of the moment.</summary>
    public static LineProgress Console { get; } = new();

    public void Report(ProgressReport value) => (writer ?? System.Console.Out).WriteLine(value);
}

/// <summary>Reports a loop's progress: the opening line, then every <c>every</c>-th step and the last.</summary>
internal static class TrainingProgress
{
    /// <summary>Runs <paramref name="body"/>, handing it a callback (step, status) to report with; null progress: silent.</summary>
    public static void Run(string description, int total, IProgress<ProgressReport>? progress, int every, Action<Action<int, string>> body)
    {
        if (progress is null) { body((_, _) => { }); return; }
        bool opened = false;
        body((step, status) =>
        {
            if (opened && step % Math.Max(1, every) != 0 && step != total) return;
            progress.Report(new ProgressReport(description, opened ? step : 0, total, status));
            opened = true;
        });
    }
}
