using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Directives;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace NotebookRunner;

/// <summary>Why a cell failed: kind (compile error, exception, timeout, kernel), message and line in the cell.</summary>
public sealed record CellFailure(string Kind, string Message, int? Line);

/// <summary>
/// The .NET Interactive kernel's own C# engine, hosted in this process and composed as the Jupyter kernel composes it:
/// a C# kernel with <c>#r "nuget:…"</c>, <c>#i</c>, the kernel helpers (<c>display</c>, …), <c>#!who</c> and value
/// sharing (<c>#!set</c>), a value kernel (<c>#!value</c>), and <c>#!time</c>. A cell's events become
/// nbformat outputs the way the kernel's Jupyter front end turns them into messages. One notebook per instance.
/// </summary>
public sealed partial class NotebookKernel : IDisposable
{
    private readonly CompositeKernel root;

    public NotebookKernel()
    {
        var csharp = new CSharpKernel()
            .UseNugetDirective((kernel, packages) => { kernel.AddAssemblyReferences(packages.SelectMany(p => p.AssemblyPaths)); return Task.CompletedTask; })
            .UseKernelHelpers().UseWho().UseValueSharing();
        root = new CompositeKernel();
        root.Add(csharp, ["c#", "C#"]);
        root.Add(new KeyValueStoreKernel());
        root.DefaultKernelName = csharp.Name;
        AddTimeDirective(root);
        PackageExtensions.Use(root);
    }

    /// <summary>True after a cell ran past its timeout: it may still be running, so nothing else may run.</summary>
    public bool Broken { get; private set; }

    /// <summary>Runs one cell; its outputs go to <paramref name="sink"/>. Returns null on success.</summary>
    public CellFailure? Execute(string code, int executionCount, OutputSink sink, TimeSpan timeout)
    {
        if (Broken) return new CellFailure("Kernel", "an earlier cell timed out and may still be running; the notebook cannot continue", null);
        var command = new SubmitCode(code);
        CellFailure? failure = null;
        int? diagnosticLine = null;
        using var subscription = root.KernelEvents.Subscribe(e =>
        {
            switch (e)
            {
                case StandardOutputValueProduced o: sink.Write("stdout", PlainText(o.FormattedValues)); break;
                case StandardErrorValueProduced o: sink.Write("stderr", PlainText(o.FormattedValues)); break;
                case DisplayedValueUpdated u: sink.Update(u.ValueId, u.FormattedValues); break;
                case DisplayedValueProduced d: sink.Display(d.ValueId, d.FormattedValues); break;
                case ReturnValueProduced r when r.Value is not DisplayedValue: sink.Result(r.FormattedValues, executionCount); break;
                case DiagnosticsProduced d when d.Diagnostics.Count > 0:
                    sink.Write("stderr", "\n" + PlainText(d.FormattedDiagnostics) + "\n");
                    diagnosticLine ??= d.Diagnostics.Where(x => x.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).Select(x => (int?)x.LinePositionSpan.Start.Line + 1).FirstOrDefault();
                    break;
                case ErrorProduced x: sink.Error("Error", x.Message, []); break;
                case CommandFailed f when ReferenceEquals(f.Command, command):
                    var (kind, line) = f.Exception switch
                    {
                        CodeSubmissionCompilationErrorException c => ("CompilationError", diagnosticLine ?? DiagnosticLine(c.Message)),
                        { } ex => (ex.GetType().FullName ?? "Exception", LineOf(ex)),
                        null => ("Error", diagnosticLine ?? DiagnosticLine(f.Message)),
                    };
                    failure = new CellFailure(kind, (f.Exception?.Message ?? f.Message).Trim(), line);
                    break;
            }
        });
        var run = Task.Run(() => root.SendAsync(command));
        if (!run.Wait(timeout))
        {
            Broken = true;
            return new CellFailure("Timeout", $"the cell ran longer than the timeout of {timeout.TotalSeconds:0.#} s", null);
        }
        return failure;
    }

    private static string PlainText(IEnumerable<FormattedValue> values) =>
        values.FirstOrDefault(v => v.MimeType == PlainTextFormatter.MimeType)?.Value ?? string.Concat(values.Select(v => v.Value));

    /// <summary>The line of the failing cell from an exception's stack (submissions compile without a file name).</summary>
    private static int? LineOf(Exception e)
    {
        var match = SubmissionLine().Match(e.ToString());
        return match.Success ? int.Parse(match.Groups[1].Value) : null;
    }

    [GeneratedRegex(@"at Submission#\d+\.[^\n]*:line (\d+)")]
    private static partial Regex SubmissionLine();

    /// <summary>The line of the first "(line,column): error …" in a compiler message.</summary>
    private static int? DiagnosticLine(string message) => FirstDiagnostic().Match(message) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    [GeneratedRegex(@"\((\d+),\d+\): error")]
    private static partial Regex FirstDiagnostic();

    /// <summary><c>#!time</c>, as the Jupyter kernel has it: "Wall time: …ms" once the cell has run.</summary>
    private static void AddTimeDirective(CompositeKernel kernel)
    {
        var time = new KernelActionDirective("#!time") { Description = "Time the execution of the cell" };
        kernel.AddDirective(time, (_, context) =>
        {
            var clock = Stopwatch.StartNew();
            context.OnComplete(c => KernelInvocationContextExtensions.Display(c, $"Wall time: {clock.Elapsed.TotalMilliseconds}ms", PlainTextFormatter.MimeType));
            return Task.CompletedTask;
        });
    }

    public void Dispose() => root.Dispose();
}
