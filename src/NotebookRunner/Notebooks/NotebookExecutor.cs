using System.Diagnostics;
using System.Text.Json.Nodes;

namespace NotebookRunner;

/// <summary>What <c>run</c> was asked to do.</summary>
public sealed record RunSettings(string OutputDirectory, IReadOnlyDictionary<string, string> Parameters, bool Html, bool AllowErrors, TimeSpan CellTimeout)
{
    /// <summary>Browser used to attach image/png copies of charts (--png); null: none.</summary>
    public string? PngBrowser { get; init; }
}

/// <summary>How one notebook went; <see cref="FirstError"/> reads "notebook X, cell N, line M: message".</summary>
public sealed record NotebookReport(string Notebook, string OutputPath, int CodeCells, int Executed, int Failed, TimeSpan Elapsed, string? FirstError, string? HtmlPath);

/// <summary>Executes one notebook's C# cells in order in a fresh kernel and writes the executed copy (and handout).</summary>
public static class NotebookExecutor
{
    public static NotebookReport Run(string path, RunSettings settings, Action<string>? progress = null)
    {
        var name = Path.GetFileName(path);
        var clock = Stopwatch.StartNew();
        var notebook = Notebook.Load(path).Clone();
        notebook.EnsurePolyglotMetadata();
        Parameters.Inject(notebook, settings.Parameters, name);
        var defaultKernel = CellKernels.DefaultOf(notebook);
        // A fresh kernel's formatting state: what an earlier notebook registered or reset does not leak into this one.
        Microsoft.DotNet.Interactive.Formatting.Formatter.ResetToDefault();

        int executed = 0, failed = 0, codeCells = 0;
        string? firstError = null;
        bool stopped = false;
        // As under Jupyter, the kernel's working directory is the notebook's folder (relative #r paths, results/…).
        var previousDirectory = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        using var kernel = new NotebookKernel();
        try
        {
        var cells = notebook.CellObjects.ToList();
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            if (cell["cell_type"]!.GetValue<string>() != "code") continue;
            codeCells++;
            var kernelName = CellKernels.Of(cell, defaultKernel).Name;
            if (kernelName == "markdown") { cell["outputs"] = new JsonArray(); cell["execution_count"] = null; continue; }   // #!markdown cell: kept
            if (stopped) { cell["outputs"] = new JsonArray(); cell["execution_count"] = null; continue; }

            var sink = new OutputSink();
            var cellClock = Stopwatch.StartNew();
            progress?.Invoke($"{name}: cell {i + 1}/{cells.Count}");
            CellFailure? failure = kernelName is "csharp" or "value"                  // the kernels this runner composes
                ? kernel.Execute(Notebook.Source(cell), executed + 1, sink, settings.CellTimeout)
                : new CellFailure("UnsupportedKernel", $"this cell is for the '{kernelName}' kernel; the runner executes C# and #!value cells (and keeps markdown)", null);
            executed++;
            cell["execution_count"] = executed;
            if (failure is not null)
            {
                failed++;
                var where = $"notebook {name}, cell {i + 1}{(failure.Line is { } line ? $", line {line}" : "")}";
                sink.Error(failure.Kind, failure.Message, [$"{where}: {failure.Message}"]);
                firstError ??= $"{where}: {failure.Message}";
                if (!settings.AllowErrors || kernel.Broken) stopped = true;
            }
            cell["outputs"] = sink.Outputs;
            progress?.Invoke($"{name}: cell {i + 1}/{cells.Count} {(failure is null ? "ok" : "FAILED")} in {cellClock.Elapsed.TotalSeconds:F1} s");
        }
        }
        finally { Environment.CurrentDirectory = previousDirectory; }

        if (settings.PngBrowser is { } browser)
            progress?.Invoke($"{name}: {ChartImages.Attach(notebook, browser)} chart(s) rendered to PNG");
        var output = Path.Combine(settings.OutputDirectory, name);
        notebook.Save(output);
        string? html = null;
        if (settings.Html)
        {
            html = Path.ChangeExtension(output, ".html");
            Handout.Write(notebook, Path.GetFileNameWithoutExtension(name), html);
        }
        return new NotebookReport(name, output, codeCells, executed, failed, clock.Elapsed, firstError, html);
    }
}
