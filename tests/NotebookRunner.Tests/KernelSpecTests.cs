using System.Text.Json.Nodes;

namespace NotebookRunner.Tests;

public class KernelSpecTests
{
    [Fact]
    public void The_kernelspec_names_the_tool_by_absolute_path_and_keeps_its_http_api_on_loopback()
    {
        var tool = KernelSpec.ToolExecutable(Path.Combine(Path.GetTempPath(), "tools"));
        var spec = KernelSpec.KernelJson(tool);
        var argv = spec["argv"]!.AsArray().Select(a => a!.GetValue<string>()).ToArray();
        Assert.True(Path.IsPathRooted(argv[0]), argv[0]);
        Assert.Equal(["jupyter", "--default-kernel", "csharp", "{connection_file}", "--http-local-only"], argv[1..]);
        Assert.DoesNotContain(argv, a => a.StartsWith("--http-port-range", StringComparison.Ordinal));   // the default binds every interface
        Assert.Equal((".NET (C#)", "C#"), (spec["display_name"]!.GetValue<string>(), spec["language"]!.GetValue<string>()));
    }

    [Fact]
    public void On_linux_the_kernel_runs_with_huge_pages_as_the_suite_and_the_runner_do()
    {
        var tool = KernelSpec.ToolExecutable(Path.GetTempPath());
        Assert.Equal("glibc.malloc.hugetlb=1", KernelSpec.KernelJson(tool, linux: true)["env"]!["GLIBC_TUNABLES"]!.GetValue<string>());
        Assert.Null(KernelSpec.KernelJson(tool, linux: false)["env"]);                        // a glibc setting: Linux only
    }

    [Fact]
    public void The_charts_ask_for_plotly_where_kernel_install_puts_it()
    {
        // The notebook support is built beside these tests but not referenced (the runner loads it as notebooks do).
        var context = new System.Runtime.Loader.AssemblyLoadContext("probe", isCollectible: true);
        try
        {
            var support = context.LoadFromAssemblyPath(Path.Combine(RunnerHarness.SupportDirectory, "EfficientAttention.Notebooks.dll"));
            var chartDisplay = support.GetType("EfficientAttention.Notebooks.ChartDisplay", throwOnError: true)!;
            Assert.Equal(KernelSpec.PlotlyScript, chartDisplay.GetField("LocalScript")!.GetRawConstantValue());
            Assert.EndsWith($"plotly-{chartDisplay.GetField("PlotlyVersion")!.GetRawConstantValue()}.min.js", KernelSpec.PlotlyScript);
        }
        finally { context.Unload(); }
    }

    [Fact]
    public void Notebooks_ask_for_the_kernelspec_that_is_installed()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(RunnerHarness.RepoRoot, "notebooks"), "*.ipynb"))
            Assert.Equal(KernelSpec.Name, JsonNode.Parse(File.ReadAllText(file))!["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Install_writes_the_kernelspec_into_the_given_jupyter_folder()
    {
        // Only where the tool can be installed (CI, development machines with NuGet access); a second install is a no-op.
        var tools = Path.Combine(RunnerHarness.RepoRoot, ".tools", "dotnet-interactive");
        var data = Directory.CreateTempSubdirectory("jupyter-data").FullName;
        try
        {
            var log = new StringWriter();
            var folder = KernelSpec.Install(tools, data, log);
            Assert.Equal(Path.Combine(data, "kernels", KernelSpec.Name), folder);
            var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "kernel.json")))!;
            Assert.Equal(KernelSpec.ToolExecutable(tools), spec["argv"]![0]!.GetValue<string>());
            Assert.True(File.Exists(KernelSpec.ToolExecutable(tools)));
            Assert.True(File.Exists(Path.Combine(folder, "logo-64x64.png")));
            var plotly = File.ReadAllText(Path.Combine(data, KernelSpec.PlotlyScript));                      // charts draw offline
            Assert.True(plotly.Length > 1_000_000 && plotly.Contains("plotly.js v2.28.0", StringComparison.Ordinal), $"{plotly.Length} characters");
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Path.Combine(data, KernelSpec.PlotlyScript))!, "*.tmp"));
            Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(data, "kernels")), d => d.Contains(".new-", StringComparison.Ordinal));   // nothing half-written
        }
        finally { Directory.Delete(data, recursive: true); }
    }
}
