namespace NotebookRunner.Tests;

public class ReferencesTests
{
    private static Notebook WithSetupCell(string reference)
    {
        var nb = Notebook.Create();
        nb.AddCell("markdown", "# t\n");
        nb.AddCell("code", $"#r \"{reference}\"\n#r \"nuget: Some.Package, 1.0.0\"\nusing System;");
        return nb;
    }

    [Fact]
    public void An_unbuilt_project_output_is_found_with_the_command_that_builds_it()
    {
        var root = Directory.CreateTempSubdirectory("refs").FullName;
        try
        {
            var project = Directory.CreateDirectory(Path.Combine(root, "src", "Lib")).FullName;
            File.WriteAllText(Path.Combine(project, "Lib.csproj"), "<Project Sdk=\"Microsoft.NET.Sdk\" />");
            var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
            var path = Path.Combine(notebooks, "a.ipynb");
            var missing = Assert.Single(References.Missing(WithSetupCell("../src/Lib/bin/Release/net10.0/Lib.dll"), path));   // nuget: is not a file
            Assert.Equal(("a.ipynb", 2, Path.Combine(project, "Lib.csproj"), "Release"), (missing.Notebook, missing.Cell, missing.Project, missing.Configuration));
            Assert.Matches(@"^dotnet build .*src[/\\]Lib -c Release$", missing.BuildCommand);

            var nowhere = Assert.Single(References.Missing(WithSetupCell("../nowhere/X.dll"), path));
            Assert.Null(nowhere.Project);
            var said = new List<string>();
            Assert.Empty(References.Build([nowhere], said.Add));                                  // nothing to build: the notebook runs, its cell fails
            Assert.Contains("notebook a.ipynb, cell 2: #r \"../nowhere/X.dll\" does not exist", Assert.Single(said));

            Directory.CreateDirectory(Path.Combine(project, "bin", "Release", "net10.0"));
            File.WriteAllText(Path.Combine(project, "bin", "Release", "net10.0", "Lib.dll"), "");
            Assert.Empty(References.Missing(WithSetupCell("../src/Lib/bin/Release/net10.0/Lib.dll"), path));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void The_course_notebooks_load_only_what_the_notebook_support_project_builds()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(RunnerHarness.RepoRoot, "notebooks"), "*.ipynb"))
        {
            var nb = Notebook.Load(file);
            var asIfUnbuilt = References.Missing(nb, Path.Combine(Path.GetTempPath(), "elsewhere", "notebooks", Path.GetFileName(file)));
            Assert.NotEmpty(asIfUnbuilt);
            Assert.All(asIfUnbuilt, m => Assert.Null(m.Project));   // no project there: each would be named in one error line
            Assert.DoesNotContain(References.Missing(nb, file), m => m.Project is null);         // here: built, or buildable
        }
    }
}
