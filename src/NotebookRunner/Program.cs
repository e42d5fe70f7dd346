using System.CommandLine;
using System.Diagnostics;
using NotebookRunner;
using Spectre.Console;

// The headless notebook runner: executes Polyglot (.NET Interactive) C# notebooks, writes executed copies and HTML handouts.
// On Linux it runs with glibc's malloc on huge pages, as the benchmark suite and the installed kernel do (README, "timings").
if (EfficientAttention.Shared.HugePages.Relaunch(args) is { } relaunched) return relaunched;
var ui = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
var stdout = Console.Out;
var stderr = Console.Error;

var notebooks = new Argument<string[]>("notebooks") { Description = "notebook files or folders (every *.ipynb inside, sorted)", Arity = ArgumentArity.OneOrMore };
var output = new Option<string>("--output") { Description = "folder for the executed notebooks (and handouts)", Required = true };
var quick = new Option<bool>("--quick") { Description = "CI-sized run: sets the parameter Quick = true" };
var parameters = new Option<string[]>("--param") { Description = "Name=Value overrides for the cell tagged 'parameters'", AllowMultipleArgumentsPerToken = false };
var html = new Option<bool>("--html") { Description = "also write <notebook-name>.html, a self-contained handout" };
var allowErrors = new Option<bool>("--allow-errors") { Description = "keep running after a failing cell (errors are recorded as outputs)" };
var png = new Option<bool>("--png") { Description = "also attach a PNG of each chart (needs Chromium or Chrome on PATH)" };
var timeout = new Option<int>("--timeout") { Description = "seconds each cell may run (notebook 04's longest cell takes ~40 min on 2 slow cores)", DefaultValueFactory = _ => 7200 };

var run = new Command("run", "Execute notebooks headless") { notebooks, output, quick, parameters, html, allowErrors, png, timeout };
run.SetAction(result =>
{
    var files = new List<string>();
    foreach (var item in result.GetValue(notebooks)!)
    {
        if (Directory.Exists(item)) files.AddRange(Directory.GetFiles(item, "*.ipynb").Order(StringComparer.Ordinal));
        else if (File.Exists(item)) files.Add(item);
        else { stderr.WriteLine($"error: {item} is neither a notebook file nor a folder"); return 2; }
    }
    var values = new Dictionary<string, string>();
    foreach (var p in result.GetValue(parameters) ?? [])
    {
        var eq = p.IndexOf('=');
        if (eq <= 0) { stderr.WriteLine($"error: --param {p}: expected Name=Value"); return 2; }
        values[p[..eq].Trim()] = p[(eq + 1)..];
    }
    if (result.GetValue(quick)) values["Quick"] = "true";
    var settings = new RunSettings(Path.GetFullPath(result.GetValue(output)!), values, result.GetValue(html), result.GetValue(allowErrors), TimeSpan.FromSeconds(result.GetValue(timeout)));
    if (result.GetValue(png))
    {
        settings = settings with { PngBrowser = ChartImages.FindBrowser() };
        if (settings.PngBrowser is null) stderr.WriteLine("warning: --png needs Chromium or Chrome on PATH (e.g. apt-get install chromium); charts stay HTML only");
    }
    Directory.CreateDirectory(settings.OutputDirectory);

    // What the notebooks load by path (#r "…/bin/Release/net10.0/X.dll") is built first, with one line saying so.
    var missing = files.SelectMany(f => { try { return References.Missing(Notebook.Load(f), f); } catch (NotebookFormatException) { return []; } }).ToList();
    foreach (var error in References.Build(missing, stdout.WriteLine))
    {
        stderr.WriteLine($"error: {error}");
        return 1;
    }

    var reports = new List<NotebookReport>();
    var clock = Stopwatch.StartNew();
    foreach (var file in files)
    {
        ui.MarkupLine($"[bold]▶ {Markup.Escape(file)}[/]");
        try
        {
            reports.Add(NotebookExecutor.Run(file, settings, line => ui.MarkupLine($"  [grey]{Markup.Escape(line)}[/] [dim]({clock.Elapsed:mm\\:ss})[/]")));
        }
        catch (Exception e) when (e is NotebookFormatException or Parameters.ParameterException or FileNotFoundException)
        {
            reports.Add(new NotebookReport(Path.GetFileName(file), "", 0, 0, 1, TimeSpan.Zero, e.Message, null));
        }
        var last = reports[^1];
        if (last.FirstError is not null) stderr.WriteLine($"error: {last.FirstError}");
    }

    var table = new Table().AddColumns("notebook", "cells run", "failed", "seconds", "output");
    foreach (var r in reports)
        table.AddRow(Markup.Escape(r.Notebook), r.Executed.ToString(), r.Failed == 0 ? "[green]0[/]" : $"[red]{r.Failed}[/]", r.Elapsed.TotalSeconds.ToString("F1"),
                     Markup.Escape(r.HtmlPath is null ? r.OutputPath : $"{r.OutputPath} + .html"));
    ui.Write(table);
    ui.MarkupLine($"{reports.Count} notebook(s), {reports.Sum(r => r.Failed)} failing cell(s), {clock.Elapsed.TotalSeconds:F1} s");
    return reports.Any(r => r.Failed > 0) ? 1 : 0;
});

var newPath = new Argument<string>("path") { Description = "the notebook file to create" };
var create = new Command("new", "Create an empty C# notebook with Polyglot Notebooks metadata") { newPath };
create.SetAction(result =>
{
    var path = result.GetValue(newPath)!;
    if (File.Exists(path)) { stderr.WriteLine($"error: {path} exists"); return 2; }
    var nb = Notebook.Create();
    nb.AddCell("markdown", "# Title\n");
    nb.AddCell("code", NotebookTemplate.SetupCell);
    nb.Save(path);
    stdout.WriteLine($"created {path}");
    return 0;
});

var pngTargets = new Argument<string[]>("notebooks") { Description = "executed notebooks to update in place", Arity = ArgumentArity.OneOrMore };
var attach = new Command("png", "Attach image/png copies of the charts in already-executed notebooks (needs Chromium or Chrome)") { pngTargets };
attach.SetAction(result =>
{
    var browser = ChartImages.FindBrowser();
    if (browser is null) { stderr.WriteLine("error: png needs Chromium or Chrome on PATH (e.g. apt-get install chromium)"); return 2; }
    foreach (var path in result.GetValue(pngTargets)!)
    {
        var nb = Notebook.Load(path);
        stdout.WriteLine($"{path}: {ChartImages.Attach(nb, browser)} chart(s) rendered");
        nb.Save(path);                                                            // temp file + rename
    }
    return 0;
});

var toolPath = new Option<string>("--tool-path") { Description = "folder for the kernel tool", DefaultValueFactory = _ => Path.Combine(".tools", "dotnet-interactive") };
var jupyterData = new Option<string>("--jupyter-data") { Description = "Jupyter data folder for the kernelspec (default: $JUPYTER_DATA_DIR or the user's)" };
var install = new Command("install", $"Install the kernel tool {KernelSpec.ToolPackage} {KernelSpec.ToolVersion} and the \".NET (C#)\" Jupyter kernelspec (HTTP API on loopback only)") { toolPath, jupyterData };
install.SetAction(result =>
{
    try
    {
        KernelSpec.Install(result.GetValue(toolPath)!, result.GetValue(jupyterData) ?? KernelSpec.DefaultDataDirectory(), stdout);
        return 0;
    }
    catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
    {
        stderr.WriteLine($"error: {e.Message}");
        return 1;
    }
});
var kernel = new Command("kernel", "The .NET Interactive kernel for Jupyter, VS Code and Codespaces") { install };

var root = new RootCommand("Headless runner for the efficient-attention notebooks (Polyglot / .NET Interactive C# format)") { run, create, attach, kernel };
return root.Parse(args).Invoke();
