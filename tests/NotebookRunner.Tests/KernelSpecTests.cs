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
            Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(data, "kernels")), d => d.Contains(".new-", StringComparison.Ordinal));   // nothing half-written
        }
        finally { Directory.Delete(data, recursive: true); }
    }
}
