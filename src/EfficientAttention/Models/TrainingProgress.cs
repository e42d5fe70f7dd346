using Spectre.Console;

namespace EfficientAttention;

/// <summary>How training reports progress.</summary>
public enum ProgressMode
{
    /// <summary>A Spectre.Console bar in an interactive terminal, otherwise text lines.</summary>
    Auto,
    /// <summary>A Spectre.Console progress bar (redrawn in place).</summary>
    Terminal,
    /// <summary>One line every <see cref="TrainerOptions.LogEvery"/> steps: readable in notebooks, logs and CI.</summary>
    Text,
    None,
}

/// <summary>Progress display for long loops (training, experiments): a terminal bar or plain lines.</summary>
public static class TrainingProgress
{
    /// <summary>
    /// Set by hosts that capture Console.Out into a document (the notebook runner): <see cref="ProgressMode.Auto"/>
    /// then writes text lines there instead of drawing a terminal bar.
    /// </summary>
    public static bool CapturedOutput { get; set; }

    /// <summary>
    /// Runs <paramref name="body"/>, handing it a callback (step, status) to report with. The Spectre bar is refreshed
    /// from that callback on the calling thread (no background renderer: TorchSharp work stays single-threaded).
    /// </summary>
    public static void Run(string description, int total, ProgressMode mode, int logEvery, TextWriter? log, Action<Action<int, string>> body)
    {
        mode = mode == ProgressMode.Auto ? (IsInteractiveTerminal() ? ProgressMode.Terminal : ProgressMode.Text) : mode;
        switch (mode)
        {
            case ProgressMode.Terminal:
                AnsiConsole.Progress().AutoRefresh(false).AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        var task = context.AddTask(Markup.Escape(description), maxValue: total);
                        var lastDraw = DateTime.MinValue;
                        body((step, status) =>
                        {
                            task.Value = step;
                            if (step < total && (DateTime.UtcNow - lastDraw).TotalMilliseconds < 100) return;
                            task.Description = Markup.Escape($"{description} {status}");
                            context.Refresh();
                            lastDraw = DateTime.UtcNow;
                        });
                    });
                break;
            case ProgressMode.Text:
                var writer = log ?? Console.Out;
                int lastWritten = -1;
                body((step, status) =>
                {
                    if (lastWritten < 0 || step % Math.Max(1, logEvery) == 0 || step == total)
                        writer.WriteLine(lastWritten < 0 ? $"{description}: {status}" : $"{description} {step}/{total} {status}");
                    lastWritten = step;
                });
                break;
            default:
                body((_, _) => { });
                break;
        }
    }

    private static bool IsInteractiveTerminal() =>
        !CapturedOutput && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;
}
