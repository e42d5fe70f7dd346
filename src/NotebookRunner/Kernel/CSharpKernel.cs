using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;

namespace NotebookRunner;

/// <summary>Why a cell failed: kind (compile error, exception, timeout, magic, kernel), message and line in the cell.</summary>
public sealed record CellFailure(string Kind, string Message, int? Line);

/// <summary>
/// Runs C# cells as successive Roslyn script submissions sharing state (each continues the previous one, so later
/// cells see earlier variables and may redeclare them, as in the .NET Interactive kernel). Cells run one at a time on
/// one dedicated thread, so thread-local state (TorchSharp dispose scopes, grad mode) carries from cell to cell.
/// </summary>
public sealed partial class CSharpKernel : IDisposable
{
    private static readonly string[] DefaultImports =
        ["System", "System.IO", "System.Linq", "System.Text", "System.Collections.Generic", "System.Threading.Tasks", "System.Net.Http",
         "Microsoft.DotNet.Interactive", "Microsoft.DotNet.Interactive.Formatting"];

    private readonly string directory;
    private readonly NuGetResolver nuget;
    private readonly List<string> sources = [];
    private readonly ExecutionThread thread = new();
    private ScriptOptions options;
    private ScriptState<object>? state;

    public CSharpKernel(string notebookDirectory, NuGetResolver nuget)
    {
        directory = Path.GetFullPath(notebookDirectory);
        this.nuget = nuget;
        options = ScriptOptions.Default
            .WithReferences(FrameworkReferences().Append(typeof(Microsoft.DotNet.Interactive.Formatting.Formatter).Assembly.Location).Append(typeof(ScriptGlobals).Assembly.Location)
                                                 .Select(p => MetadataReference.CreateFromFile(p)))
            .WithImports(DefaultImports)
            .WithEmitDebugInformation(true)
            .WithFileEncoding(Encoding.UTF8)
            .WithLanguageVersion(LanguageVersion.Latest);
    }

    /// <summary>True after a cell ran past its timeout: its thread may still be running, so nothing else may run.</summary>
    public bool Broken { get; private set; }

    /// <summary>Runs one cell; its outputs go to <paramref name="sink"/>. Returns null on success.</summary>
    public CellFailure? Execute(string code, string cellName, int executionCount, OutputSink sink, TimeSpan timeout)
    {
        if (Broken) return new CellFailure("Kernel", "an earlier cell timed out and may still be running; the notebook cannot continue", null);
        var work = thread.Run(() => Run(code, cellName, executionCount, sink));
        if (!work.Wait(timeout))
        {
            Broken = true;
            return new CellFailure("Timeout", $"the cell ran longer than the timeout of {timeout.TotalSeconds:0.#} s", null);
        }
        return work.Result;
    }

    private CellFailure? Run(string code, string cellName, int executionCount, OutputSink sink)
    {
        string script;
        try { script = ApplyMagics(code); }
        catch (MagicException e) { return new CellFailure("Magic", e.Message, e.Line); }

        var cellOptions = options.WithFilePath(cellName);
        var previousDirectory = Environment.CurrentDirectory;
        var previousSink = ScriptHost.Current;
        ScriptHost.Current = sink;
        Environment.CurrentDirectory = directory;
        try
        {
            var next = state is null
                ? CSharpScript.Create(script, cellOptions, typeof(ScriptGlobals)).RunAsync(new ScriptGlobals(), catchException: _ => true).GetAwaiter().GetResult()
                : state.ContinueWithAsync(script, cellOptions, catchException: _ => true).GetAwaiter().GetResult();
            Console.Out.Flush();
            if (next.Exception is { } exception)
            {
                state = next;
                var inner = exception is TargetInvocationException { InnerException: { } ie } ? ie : exception;
                return new CellFailure(inner.GetType().FullName ?? "Exception", inner.Message, LineOf(inner, cellName));
            }
            state = next;
            if (EndsWithExpression(script) && next.ReturnValue is not Microsoft.DotNet.Interactive.DisplayedValue)
                sink.Result(next.ReturnValue, executionCount);
            return null;
        }
        catch (CompilationErrorException e)
        {
            var errors = e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            var first = errors.FirstOrDefault() ?? e.Diagnostics.First();
            int line = first.Location.GetLineSpan().StartLinePosition.Line + 1;
            var message = $"{first.Id}: {first.GetMessage()}" + (errors.Count > 1
                ? " (also " + string.Join("; ", errors.Skip(1).Take(4).Select(d => $"line {d.Location.GetLineSpan().StartLinePosition.Line + 1}: {d.Id}: {d.GetMessage()}")) + ")"
                : "");
            return new CellFailure("CompilationError", message, line);
        }
        finally
        {
            Environment.CurrentDirectory = previousDirectory;
            ScriptHost.Current = previousSink;
        }
    }

    private static bool EndsWithExpression(string script)
    {
        var root = CSharpSyntaxTree.ParseText(script, new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script)).GetCompilationUnitRoot();
        return root.Members.LastOrDefault() is GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } };
    }

    private static int? LineOf(Exception e, string cellName)
    {
        var match = Regex.Match(e.StackTrace ?? "", $@"in {Regex.Escape(cellName)}:line (\d+)");
        return match.Success ? int.Parse(match.Groups[1].Value) : null;
    }

    private sealed class MagicException(string message, int line) : Exception(message) { public int Line { get; } = line; }

    [GeneratedRegex(@"^#r\s+""nuget:\s*(?<name>[^,""\s]+)\s*(,\s*(?<version>[^""\s]+))?\s*""\s*$")]
    private static partial Regex NuGetReference();
    [GeneratedRegex(@"^#r\s+""(?<path>[^""]+)""\s*$")]
    private static partial Regex FileReference();
    [GeneratedRegex(@"^#i\s+""nuget:\s*(?<source>[^""]+)""\s*$")]
    private static partial Regex PackageSource();

    /// <summary>
    /// Handles the kernel's magic lines and blanks them (keeping line numbers): <c>#!csharp</c>, <c>#r "nuget: Name, Version"</c>,
    /// <c>#r "file.dll"</c> (relative to the notebook's folder), <c>#i "nuget: source"</c>. Anything else starting with
    /// <c>#!</c> is an unknown magic.
    /// </summary>
    private string ApplyMagics(string code)
    {
        var lines = code.Replace("\r\n", "\n").Split('\n');
        var packages = new List<(string Name, string? Version, int Line)>();
        var files = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith("#!", StringComparison.Ordinal))
            {
                var name = line[2..].Split(' ', 2)[0];
                if (name is not ("csharp" or "c#" or "C#"))
                    throw new MagicException(CellKernels.IsKernelName(name)
                        ? $"#!{name} switches to another kernel inside a C# cell; this runner executes C# only"
                        : $"unknown magic command #!{name} (supported: #!csharp, #r \"nuget: …\", #r \"file.dll\", #i \"nuget: …\")", i + 1);
                lines[i] = "";
            }
            else if (NuGetReference().Match(line) is { Success: true } package)
            {
                packages.Add((package.Groups["name"].Value, package.Groups["version"].Success ? package.Groups["version"].Value : null, i + 1));
                lines[i] = "";
            }
            else if (FileReference().Match(line) is { Success: true } file)
            {
                var path = Path.GetFullPath(Path.Combine(directory, file.Groups["path"].Value));
                if (!File.Exists(path))
                    throw new MagicException($"#r: {file.Groups["path"].Value} (resolved to {path}) does not exist; build the library first (see the README)", i + 1);
                files.Add(path);
                lines[i] = "";
            }
            else if (PackageSource().Match(line) is { Success: true } source)
            {
                var s = source.Groups["source"].Value.Trim();
                sources.Add(Uri.TryCreate(s, UriKind.Absolute, out _) ? s : Path.GetFullPath(Path.Combine(directory, s)));
                lines[i] = "";
            }
            else if (line.StartsWith("#r ", StringComparison.Ordinal) || line.StartsWith("#i ", StringComparison.Ordinal))
                throw new MagicException($"cannot parse '{line}'; expected #r \"nuget: Name, Version\", #r \"path.dll\" or #i \"nuget: source\"", i + 1);
        }
        var references = files.Select(ReferenceFor).ToList();
        if (packages.Count > 0)
        {
            try { references.AddRange(nuget.Resolve(packages.Select(p => (p.Name, p.Version)).ToList(), sources).Select(ReferenceFor)); }
            catch (NuGetException e) { throw new MagicException(e.Message, packages[0].Line); }
        }
        if (references.Count > 0) options = options.AddReferences(references);
        return string.Join("\n", lines);
    }

    /// <summary>A reference to a dll; if an assembly of that name is already loaded (the library, TorchSharp…), that one.</summary>
    private static MetadataReference ReferenceFor(string path)
    {
        var name = AssemblyName.GetAssemblyName(path).Name;
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => !a.IsDynamic && a.GetName().Name == name && a.Location.Length > 0);
        return MetadataReference.CreateFromFile(loaded?.Location ?? path);
    }

    private static IEnumerable<string> FrameworkReferences()
    {
        var frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetDirectoryName(p) == frameworkDir && Path.GetFileName(p).StartsWith("System", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll" or "Microsoft.CSharp.dll" or "Microsoft.Win32.Primitives.dll")
            .Where(p => IsManaged(p));
    }

    internal static bool IsManaged(string path)
    {
        try { AssemblyName.GetAssemblyName(path); return true; } catch (BadImageFormatException) { return false; }
    }

    public void Dispose() => thread.Dispose();
}

/// <summary>One long-lived thread that runs work items in order.</summary>
public sealed class ExecutionThread : IDisposable
{
    private readonly BlockingCollection<Action> queue = new();
    private readonly Thread thread;

    public ExecutionThread()
    {
        thread = new Thread(() => { foreach (var item in queue.GetConsumingEnumerable()) item(); }) { IsBackground = true, Name = "notebook cells" };
        thread.Start();
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        queue.Add(() => { try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); } });
        return done.Task;
    }

    public void Dispose() => queue.CompleteAdding();
}
