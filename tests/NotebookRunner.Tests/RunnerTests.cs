using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static NotebookRunner.Tests.RunnerHarness;

namespace NotebookRunner.Tests;

public class RunnerTests
{
    private static List<JsonObject> Outputs(JsonObject cell) => cell["outputs"]!.AsArray().Select(o => o!.AsObject()).ToList();

    [SharedSamplesFact]
    public void Samples_written_for_the_real_kernel_reproduce_their_recorded_outputs()
    {
        var samples = SharedSamples!;
        var result = Run(samples, "--allow-errors");
        // What fails here fails in the real kernel too (dotnet-interactive 1.0.712001 under Jupyter, checked):
        // LaTeXString/MathString are not in scope in a C# cell (CS0246); the F# notebook needs the F# kernel.
        var failures = Regex.Matches(result.Output, @"^error: notebook ([^,]+), cell \d+", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Distinct().Order().ToList();
        Assert.True(failures.SequenceEqual(["Math-and-LaTeX.ipynb"]), result.Output);
        Assert.Contains("The type or namespace name 'LaTeXString' could not be found", result.Output);
        static string Normal(string s) => Regex.Replace(Regex.Replace(s, "<style>.*?</style>", "", RegexOptions.Singleline), @"Submission#\d+", "Submission#N").Replace("\r\n", "\n").Trim();
        int compared = 0;
        foreach (var file in Directory.GetFiles(samples, "*.ipynb"))
        {
            var recorded = CodeCells(JsonNode.Parse(File.ReadAllText(file))!.AsObject());
            var ours = CodeCells(result.Executed(Path.GetFileName(file)));
            Assert.Equal(recorded.Count, ours.Count);
            for (int i = 0; i < recorded.Count; i++)
            {
                var expected = Outputs(recorded[i]);
                var actual = Outputs(ours[i]);
                if (expected.Count == 0) continue;                                    // nothing recorded for this cell
                // VS Code saves a cell's value as display_data; Jupyter (and this runner) use execute_result.
                static string Kind(JsonObject o) => o["output_type"]!.GetValue<string>() is "execute_result" ? "display_data" : o["output_type"]!.GetValue<string>();
                Assert.Equal(expected.Select(Kind), actual.Select(Kind));
                for (int j = 0; j < expected.Count; j++)
                    foreach (var (mime, value) in expected[j]["data"]!.AsObject())
                    {
                        Assert.True(actual[j]["data"]![mime] is not null, $"{Path.GetFileName(file)} cell {i}: no {mime}");
                        Assert.Equal(Normal(Text(value)), Normal(Text(actual[j]["data"]![mime])));
                        compared++;
                    }
            }
        }
        Assert.True(compared >= 11, $"compared only {compared} recorded outputs");
    }

    [Fact]
    public void Displays_streams_results_and_updates_come_out_in_order()
    {
        var path = Write("display.ipynb",
            ("code", "var x = \"Hello!\";\ndisplay(x);\nConsole.Write(\"hello\");\nConsole.Write(\" \");\nConsole.WriteLine(\"world\");\nx"),
            ("code", "var h = display(\"before\");\nh.Update(\"after\");\nnew[] { 1, 2 }.Display();\n1 + 1"),
            ("code", "var x = 42; // redeclared, as the kernel allows\nx * 2"),
            ("code", "Console.WriteLine(\"no result\");"));
        var result = Run(path);
        Assert.True(result.ExitCode == 0, result.Output);
        var cells = CodeCells(result.Executed("display.ipynb"));
        Assert.Equal(["display_data", "stream", "execute_result"], Outputs(cells[0]).Select(o => o["output_type"]!.GetValue<string>()));
        Assert.Equal("hello world\n", Text(Outputs(cells[0])[1]["text"]));
        Assert.Equal("Hello!", Text(Outputs(cells[0])[2]["data"]!["text/plain"]));
        Assert.Equal(1, cells[0]["execution_count"]!.GetValue<int>());
        // The kernel (1.0.0-beta.26120.1) announces an update under a new display id, so Jupyter keeps the original.
        Assert.Equal("before", Text(Outputs(cells[1])[0]["data"]!["text/plain"]));
        Assert.Contains("[ 1, 2 ]", Text(Outputs(cells[1])[1]["data"]!["text/html"]));
        Assert.Contains("<pre>2</pre>", Text(Outputs(cells[1])[2]["data"]!["text/html"]));   // the kernel formats numbers as HTML only
        Assert.Contains("<pre>84</pre>", Text(Outputs(cells[2])[0]["data"]!["text/html"]));
        Assert.Equal(["stream"], Outputs(cells[3]).Select(o => o["output_type"]!.GetValue<string>()));
    }

    [Fact]
    public void The_kernels_magics_work_because_it_is_the_kernel()
    {
        var path = Write("magics.ipynb",
            ("code", "#!value --name greeting\nhello from the value kernel"),
            ("code", "#!set --name g --value @value:greeting\ng"),
            ("code", "#!time\nSystem.Threading.Thread.Sleep(50);"),
            ("code", "var answer = 42;\n#!who"));
        var result = Run(path);
        Assert.True(result.ExitCode == 0, result.Output);
        var cells = CodeCells(result.Executed("magics.ipynb"));
        Assert.Equal("hello from the value kernel", Text(Outputs(cells[1]).Last()["data"]!["text/plain"]));
        Assert.StartsWith("Wall time: ", Text(Outputs(cells[2]).Last()["data"]!["text/plain"]));
        Assert.Contains("answer", string.Concat(Outputs(cells[3]).Select(o => Text(o["data"]?["text/html"]) + Text(o["data"]?["text/plain"]))));
    }

    [Fact]
    public void Parameters_and_quick_are_injected_after_the_parameters_cell()
    {
        var path = Write("params.ipynb",
            ("code", "//parameters\nbool Quick = false;\nint Steps = 100;\nstring Name = \"full\";\ndouble Rate = 0.5;"),
            ("code", "$\"{Quick} {Steps} {Name} {Rate}\""));
        var result = Run(path, "--quick", "--param", "Steps=7", "--param", "Name=a \"b\"", "--param", "Rate=1e-3");
        Assert.True(result.ExitCode == 0, result.Output);
        var cells = CodeCells(result.Executed("params.ipynb"));
        Assert.Equal("injected-parameters", cells[1]["metadata"]!["tags"]![0]!.GetValue<string>());
        Assert.Equal("True 7 a \"b\" 0.001", Text(Outputs(cells[2])[0]["data"]!["text/plain"]));

        var bad = Run(path, "--param", "Nope=1");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("parameter Nope is not declared in the parameters cell (it declares: Quick, Steps, Name, Rate)", bad.Output);
        Assert.Contains("Steps = 'x' is not a valid int", Run(path, "--param", "Steps=x").Output);
    }

    [Fact]
    public void A_compile_error_names_notebook_cell_and_line_and_stops_the_notebook()
    {
        var path = Write("compile.ipynb", ("markdown", "# t"), ("code", "int a = 1;\nint b = a +;\n"), ("code", "Console.WriteLine(\"never\");"));
        var original = File.ReadAllText(path);
        var result = Run(path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("notebook compile.ipynb, cell 2, line 2: (2,12): error CS1525: Invalid expression term ';'", result.Output);
        var cells = CodeCells(result.Executed("compile.ipynb"));
        Assert.Equal("CompilationError", Outputs(cells[0]).Last()["ename"]!.GetValue<string>());
        Assert.Empty(Outputs(cells[1]));                                              // not run
        Assert.Equal(original, File.ReadAllText(path));                               // input untouched
    }

    [Fact]
    public void With_allow_errors_every_cell_runs_and_exceptions_are_error_outputs()
    {
        var path = Write("errors.ipynb",
            ("code", "var ok = 1;\nthrow new InvalidOperationException(\"boom\");"),
            ("code", "#!fsharp\nlet x = 1"),
            ("code", "#!whatever\n1"),
            ("code", "ok + 1"));
        var result = Run(path, "--allow-errors");
        Assert.Equal(1, result.ExitCode);
        var cells = CodeCells(result.Executed("errors.ipynb"));
        var error = Outputs(cells[0])[0];
        Assert.Equal(("System.InvalidOperationException", "boom"), (error["ename"]!.GetValue<string>(), error["evalue"]!.GetValue<string>()));
        Assert.Contains("notebook errors.ipynb, cell 1: boom", Text(error["traceback"]));
        Assert.Contains("for the 'fsharp' kernel", Outputs(cells[1])[0]["evalue"]!.GetValue<string>());
        Assert.Contains("Unknown magic command '#!whatever'", Outputs(cells[2]).Last()["evalue"]!.GetValue<string>());
        Assert.Contains("<pre>2</pre>", Text(Outputs(cells[3])[0]["data"]!["text/html"]));   // state survived the failures
    }

    [Fact]
    public void A_cell_past_its_timeout_fails_clearly()
    {
        var path = Write("slow.ipynb", ("code", "System.Threading.Thread.Sleep(20_000);"), ("code", "1"));
        var result = Run(path, "--timeout", "2", "--allow-errors");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("ran longer than the timeout of 2 s", result.Output);
        Assert.Empty(Outputs(CodeCells(result.Executed("slow.ipynb"))[1]));          // the kernel is not reused after a timeout
    }

    [Fact]
    public void Malformed_json_and_missing_files_are_reported()
    {
        var dir = Directory.CreateTempSubdirectory("bad").FullName;
        var path = Path.Combine(dir, "broken.ipynb");
        File.WriteAllText(path, "{\"cells\": [ {\"cell_type\": \"code\", ");
        var result = Run(path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("broken.ipynb: not valid JSON (line 1", result.Output);
        Assert.Equal(2, Run(Path.Combine(dir, "missing.ipynb")).ExitCode);
    }

    [Fact]
    public void Missing_package_and_missing_dll_fail_with_the_name()
    {
        var path = Write("refs.ipynb", ("code", "#r \"nuget: No.Such.Package.For.Notebooks, 9.9.9\""), ("code", "#r \"../nowhere/lib.dll\""));
        var result = Run(path, "--allow-errors");
        var cells = CodeCells(result.Executed("refs.ipynb"));
        Assert.Contains("No.Such.Package.For.Notebooks", Text(Outputs(cells[0]).Last()["evalue"]));
        Assert.Contains("lib.dll", Text(Outputs(cells[1]).Last()["evalue"]));
        Assert.Contains("notebook refs.ipynb, cell 2, line 1: (1,1): error CS0006", Text(Outputs(cells[1]).Last()["traceback"]));
    }

    [Fact]
    public void A_notebook_whose_reference_is_not_built_yet_gets_it_built_with_one_line_saying_so()
    {
        var root = Directory.CreateTempSubdirectory("runner-unbuilt").FullName;
        try
        {
            var lib = Directory.CreateDirectory(Path.Combine(root, "lib")).FullName;
            File.WriteAllText(Path.Combine(lib, "Lib.csproj"), "<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup></Project>");
            File.WriteAllText(Path.Combine(lib, "Hello.cs"), "public static class Hello { public static string Hi() => \"hi from a fresh build\"; }");
            var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
            var path = WriteIn(notebooks, "fresh.ipynb", ("code", "#r \"../lib/bin/Release/net10.0/Lib.dll\""), ("code", "Hello.Hi()"));
            var result = Run(path);
            Assert.Equal(0, result.ExitCode);
            Assert.Single(result.Output.Split('\n'), l => l.Contains("is not built", StringComparison.Ordinal) && l.Contains("dotnet build", StringComparison.Ordinal) && l.Contains("-c Release", StringComparison.Ordinal));
            Assert.DoesNotContain("CS0006", result.Output);
            Assert.Contains("hi from a fresh build", Text(Outputs(CodeCells(result.Executed("fresh.ipynb"))[1]).Single()["data"]!["text/plain"]));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void The_library_loads_by_relative_path_and_nuget_packages_restore_through_the_kernel()
    {
        var dir = Directory.CreateDirectory(Path.Combine(RepoRoot, "notebooks", "obj-test-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        try
        {
            var setup = SetupCell.Replace(SupportDirectory + Path.DirectorySeparatorChar, Path.GetRelativePath(dir, SupportDirectory) + "/");
            var path = WriteIn(dir, "refs.ipynb",
                ("code", setup),
                ("code", "Normalizers.Sparsemax(tensor(new[] { 1.0, 0.5, -1.0 })).data<double>().ToArray()"),
                ("code", "#r \"nuget: Humanizer.Core, 2.14.1\"\nHumanizer.StringHumanizeExtensions.Humanize(\"PascalCaseInput\")"),
                ("code", "System.IO.Path.GetFileName(Environment.CurrentDirectory)"));
            var result = Run(path);
            Assert.True(result.ExitCode == 0, result.Output);
            var cells = CodeCells(result.Executed("refs.ipynb"));
            Assert.Contains("0.75, 0.25, 0", Text(Outputs(cells[1]).Last()["data"]!["text/html"]));
            // NotebookSession.Start() keeps the kernel from printing CS1701 for TorchSharp's .NET 8 references in later cells.
            Assert.DoesNotContain(cells.Skip(1).SelectMany(Outputs), o => o["name"]?.GetValue<string>() == "stderr");
            Assert.Equal("Pascal case input", Text(Outputs(cells[2]).Last()["data"]!["text/plain"]));
            Assert.Equal(Path.GetFileName(dir), Text(Outputs(cells[3])[0]["data"]!["text/plain"]));    // the kernel runs in the notebook's folder
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Executed_notebooks_keep_polyglot_metadata_and_the_html_handout_is_self_contained()
    {
        var path = Write("meta.ipynb",
            ("markdown", "# Title\n\nInline $\\sqrt{d}$ math."),
            ("code", "#!markdown\n## A polyglot markdown cell"),
            ("code", SetupCell + "\nPlots.Bars(\"a chart\", \"x\", \"y\", new[] { \"a\", \"b\" }, new[] { 1.0, 2.0 })"));
        var result = Run(path, "--html");
        Assert.True(result.ExitCode == 0, result.Output);
        var nb = result.Executed("meta.ipynb");
        Assert.Equal((4, 5), (nb["nbformat"]!.GetValue<int>(), nb["nbformat_minor"]!.GetValue<int>()));
        Assert.Equal(".net-csharp", nb["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal(".NET (C#)", nb["metadata"]!["kernelspec"]!["display_name"]!.GetValue<string>());
        Assert.Equal("csharp", nb["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]!.GetValue<string>());
        var ids = nb["cells"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Empty(Outputs(CodeCells(nb)[0]));                                       // #!markdown: kept, not executed
        var code = CodeCells(nb)[1];
        Assert.Equal("csharp", code["metadata"]!["dotnet_interactive"]!["language"]!.GetValue<string>());
        Assert.Equal("csharp", code["metadata"]!["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
        Assert.Contains("Plotly.newPlot", Text(Outputs(code).Last()["data"]!["text/html"]));

        var html = File.ReadAllText(Path.Combine(result.OutputDirectory, "meta.html"));
        Assert.Single(Regex.Matches(html, @"plotly\.js v2\.28\.0"));                // the library, inlined once
        Assert.DoesNotMatch("<script[^>]+src=", html);                               // nothing loaded from elsewhere
        Assert.Contains("<h1", html);
        Assert.Contains("class=\"math\"", html);
        Assert.Single(Regex.Matches(html, "renderMathInElement\\(document.body"));      // KaTeX, inlined once
        Assert.Contains("output: \"mathml\"", html);
        Assert.Contains("Plotly.newPlot", html);
        Assert.Contains("<h2", html);                                                 // the #!markdown cell, rendered

        // Round trip: the executed notebook is itself a valid input, and runs to the same outputs.
        var again = Run(Path.Combine(result.OutputDirectory, "meta.ipynb"));
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Equal(Outputs(code).Count, Outputs(CodeCells(again.Executed("meta.ipynb"))[1]).Count);
    }

    [Fact]
    public void The_new_command_writes_a_notebook_the_runner_accepts()
    {
        var dir = Directory.CreateTempSubdirectory("new").FullName;
        var path = Path.Combine(dir, "fresh.ipynb");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "NotebookRunner.dll"), "new", path }) psi.ArgumentList.Add(a);
        using (var p = System.Diagnostics.Process.Start(psi)!) { p.WaitForExit(); Assert.Equal(0, p.ExitCode); }
        var nb = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(".net-csharp", nb["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal("polyglot-notebook", nb["cells"]![1]!["metadata"]!["vscode"]!["languageId"]!.GetValue<string>());
        Assert.Contains("NotebookSession.Start();", RunnerHarness.Text(nb["cells"]![1]!["source"]));
    }
}

/// <summary>Runs where ../shared/notebooks-by-others exists (CI and development checkouts); else skipped with the reason.</summary>
public sealed class SharedSamplesFactAttribute : FactAttribute
{
    public SharedSamplesFactAttribute()
    {
        if (SharedSamples is null) Skip = "../shared/notebooks-by-others (the real kernel's sample notebooks) is not beside this checkout";
    }
}

public class ChartImageTests
{
    [Fact]
    public void Png_attaches_a_static_image_of_each_chart_when_a_browser_exists()
    {
        var path = RunnerHarness.Write("png.ipynb",
            ("code", RunnerHarness.SetupCell + "\nPlots.Bars(\"a chart\", \"x\", \"y\", new[] { \"a\", \"b\" }, new[] { 1.0, 2.0 })"));
        var result = RunnerHarness.Run(path, "--png");
        Assert.True(result.ExitCode == 0, result.Output);
        var data = RunnerHarness.CodeCells(result.Executed("png.ipynb"))[0]["outputs"]!.AsArray().Last()!["data"]!;
        if (ChartImages.FindBrowser() is null)
        {
            Assert.Contains("--png needs Chromium or Chrome", result.Output);
            Assert.Null(data["image/png"]);
            return;
        }
        var png = Convert.FromBase64String(RunnerHarness.Text(data["image/png"]));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 5_000, $"a {png.Length}-byte PNG is too small to be the chart");
        var html = RunnerHarness.Text(data["text/html"]);
        Assert.Contains("Plotly.newPlot", html);                                        // the interactive version stays
        // … and carries the picture right after the div plotly draws into, for viewers that run no scripts.
        Assert.Matches("<!-- Plotly chart will be drawn inside this DIV --></div><img class=\"ea-chart-fallback\"[^>]*src=\"data:image/png;base64,", html);
        var nb = Notebook.Load(Path.Combine(result.OutputDirectory, "png.ipynb"));
        Assert.Equal(1, ChartImages.Attach(nb, ChartImages.FindBrowser()!));           // again: replaced, not added
        var again = RunnerHarness.Text(nb.CellObjects.First(c => c["cell_type"]!.GetValue<string>() == "code")["outputs"]!.AsArray().Last()!["data"]!["text/html"]);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(again, "ea-chart-fallback\" alt"));
    }
}
