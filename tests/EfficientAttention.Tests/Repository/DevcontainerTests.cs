using System.Text.Json;

namespace EfficientAttention.Tests;

/// <summary>.devcontainer/devcontainer.json parses (as JSON with comments) and asks for what the notebooks need.</summary>
public class DevcontainerTests
{
    private static readonly string RepoRoot = Shared.DatasetSetup.RepositoryRoot();

    private static JsonElement Config()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot, ".devcontainer", "devcontainer.json"));
        return JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }).RootElement;
    }

    [Fact]
    public void Image_is_the_dotnet_10_devcontainer_on_a_new_enough_ubuntu()
    {
        var image = Config().GetProperty("image").GetString()!;
        Assert.StartsWith("mcr.microsoft.com/devcontainers/dotnet:10.0", image);
        Assert.EndsWith("-noble", image);                    // Ubuntu 24.04: libstdc++ has GLIBCXX_3.4.32 and .33
    }

    [Fact]
    public void Has_the_csharp_and_jupyter_extensions_and_needs_no_polyglot()
    {
        var extensions = Config().GetProperty("customizations").GetProperty("vscode").GetProperty("extensions")
                                 .EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains("ms-dotnettools.csharp", extensions);
        Assert.DoesNotContain("ms-dotnettools.dotnet-interactive-vscode", extensions);   // deprecated; optional, not required
        Assert.Contains("ms-toolsai.jupyter", extensions);
    }

    [Fact]
    public void Asks_for_at_least_8_GB_of_memory()
    {
        var memory = Config().GetProperty("hostRequirements").GetProperty("memory").GetString()!;
        var match = System.Text.RegularExpressions.Regex.Match(memory, @"^(\d+)gb$");
        Assert.True(match.Success, $"memory = {memory}");
        Assert.True(int.Parse(match.Groups[1].Value) >= 8, $"memory = {memory}");
    }

    [Fact]
    public void Post_create_builds_the_solution_fetches_the_datasets_and_registers_the_kernel()
    {
        var command = Config().GetProperty("postCreateCommand").GetString()!;
        var script = command.Split(' ').Last();
        var body = File.ReadAllText(Path.Combine(RepoRoot, script));
        Assert.Contains("dotnet build Notebooks.sln", body);
        Assert.Contains("datasets/fetch.sh", body);
        Assert.Contains("-- kernel install", body);                                  // the ".NET (C#)" kernelspec for VS Code's Jupyter
        Assert.True(File.Exists(Path.Combine(RepoRoot, "datasets", "fetch.sh")));
    }
}
