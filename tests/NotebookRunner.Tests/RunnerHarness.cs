using System.Diagnostics;
using System.Text.Json.Nodes;

namespace NotebookRunner.Tests;

/// <summary>Runs the built runner as its own process (as users and CI do), on notebooks written to a temp folder.</summary>
internal static class RunnerHarness
{
    public static readonly string RepoRoot = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Notebooks.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Notebooks.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>../shared/notebooks-by-others (beside the checkout, or beside one of its ancestors); null if absent.</summary>
    public static readonly string? SharedSamples = FindShared();

    private static string? FindShared()
    {
        for (var dir = new DirectoryInfo(RepoRoot).Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "notebooks-by-others");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The notebook-support project's output (library, TorchSharp, Plotly.NET), built in this test's configuration.</summary>
    public static readonly string SupportDirectory = Path.Combine(RepoRoot, "src", "EfficientAttention.Notebooks", "bin",
        new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0");

    /// <summary>The first cell of a course notebook, with absolute paths to <see cref="SupportDirectory"/>.</summary>
    public static string SetupCell => string.Concat(new[] { "TorchSharp", "EfficientAttention", "Plotly.NET", "EfficientAttention.Notebooks" }
        .Select(a => $"#r \"{Path.Combine(SupportDirectory, a + ".dll")}\"\n"))
        + "using EfficientAttention;\nusing EfficientAttention.Notebooks;\nusing static TorchSharp.torch;\nNotebookSession.Start();";

    /// <summary>The runner built beside this test assembly (the project reference copies it here).</summary>
    private static string RunnerDll => Path.Combine(AppContext.BaseDirectory, "NotebookRunner.dll");

    public sealed record Result(int ExitCode, string Output, string OutputDirectory)
    {
        public JsonObject Executed(string name) => JsonNode.Parse(File.ReadAllText(Path.Combine(OutputDirectory, name)))!.AsObject();
    }

    public static Result Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    public static Result RunWith(Dictionary<string, string> environment, params string[] args)
    {
        var output = Directory.CreateTempSubdirectory("runner-out").FullName;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = RepoRoot };
        psi.ArgumentList.Add(RunnerDll);
        psi.ArgumentList.Add("run");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--output");
        psi.ArgumentList.Add(output);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result + stderr, output);
    }

    /// <summary>Writes a notebook whose cells are (type, source[, tag]) into a new temp folder; returns its path.</summary>
    public static string Write(string name, params (string Type, string Source)[] cells) => WriteIn(Directory.CreateTempSubdirectory("runner-in").FullName, name, cells);

    public static string WriteIn(string dir, string name, params (string Type, string Source)[] cells)
    {
        var array = new JsonArray();
        foreach (var (type, source) in cells)
        {
            var tagged = source.StartsWith("//parameters\n", StringComparison.Ordinal);
            var cell = new JsonObject { ["cell_type"] = type, ["metadata"] = tagged ? new JsonObject { ["tags"] = new JsonArray("parameters") } : new JsonObject(), ["source"] = source };
            if (type == "code") { cell["outputs"] = new JsonArray(); cell["execution_count"] = null; }
            array.Add(cell);
        }
        var notebook = new JsonObject
        {
            ["cells"] = array, ["nbformat"] = 4, ["nbformat_minor"] = 4,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" } },
        };
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, notebook.ToJsonString());
        return path;
    }

    public static List<JsonObject> CodeCells(JsonObject notebook) =>
        notebook["cells"]!.AsArray().Select(c => c!.AsObject()).Where(c => c["cell_type"]!.GetValue<string>() == "code").ToList();

    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };
}
