using System.Text.RegularExpressions;

namespace NotebookRunner;

/// <summary>A <c>#r "file.dll"</c> of a notebook that does not exist, and the project whose build output it names (if any).</summary>
public sealed record MissingReference(string Notebook, int Cell, string Path, string? Project, string? Configuration)
{
    /// <summary>The command that builds it, with the project's folder relative to the working directory where that is shorter.</summary>
    public string? BuildCommand => Project is null ? null : $"dotnet build {Shorter(System.IO.Path.GetDirectoryName(Project)!)} -c {Configuration}";

    private static string Shorter(string folder) =>
        System.IO.Path.GetRelativePath(Environment.CurrentDirectory, folder) is var relative && relative.Length < folder.Length ? relative : folder;
}

/// <summary>
/// Finds the assemblies a notebook loads by file path (<c>#r "…/bin/Release/net10.0/X.dll"</c>) that are not built yet,
/// so the runner can build them first (one line saying so) instead of the kernel failing with a compiler error per file.
/// </summary>
public static partial class References
{
    /// <summary>The missing file references of <paramref name="notebook"/> (read from <paramref name="path"/>'s folder).</summary>
    public static IReadOnlyList<MissingReference> Missing(Notebook notebook, string path)
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var missing = new List<MissingReference>();
        var cells = notebook.CellObjects.ToList();
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i]["cell_type"]?.GetValue<string>() != "code") continue;
            foreach (Match m in FileReference().Matches(Notebook.Source(cells[i])))
            {
                var file = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, m.Groups[1].Value));
                if (File.Exists(file)) continue;
                var (project, configuration) = ProjectOf(file);
                missing.Add(new MissingReference(System.IO.Path.GetFileName(path), i + 1, m.Groups[1].Value, project, configuration));
            }
        }
        return missing;
    }

    /// <summary>For <c>&lt;dir&gt;/bin/&lt;Configuration&gt;/&lt;tfm&gt;/X.dll</c> where <c>&lt;dir&gt;</c> holds one .csproj: that project and configuration.</summary>
    public static (string? Project, string? Configuration) ProjectOf(string dll)
    {
        var tfm = Directory.GetParent(dll);
        var configuration = tfm?.Parent;
        var bin = configuration?.Parent;
        if (bin is null || bin.Name != "bin" || bin.Parent is null || !bin.Parent.Exists) return (null, null);
        var projects = bin.Parent.GetFiles("*.csproj");
        return projects.Length == 1 ? (projects[0].FullName, configuration!.Name) : (null, null);
    }

    /// <summary>
    /// Builds each project that <paramref name="missing"/> names (once), saying so in one line each, and says in one
    /// line each which files no project builds (their notebooks still run: the cell fails, naming the file); returns
    /// one error line per build that failed.
    /// </summary>
    public static IReadOnlyList<string> Build(IReadOnlyList<MissingReference> missing, Action<string> say)
    {
        var errors = new List<string>();
        foreach (var group in missing.Where(m => m.Project is not null).GroupBy(m => (m.Project, m.Configuration)))
        {
            var first = group.First();
            say($"{first.Path} is not built (referenced by {string.Join(", ", group.Select(m => m.Notebook).Distinct())}): running `{first.BuildCommand}` …");
            var (exitCode, log) = ChildProcess.Run("dotnet", ["build", group.Key.Project!, "-c", group.Key.Configuration!, "-nologo", "-v", "q"]);
            if (exitCode != 0) errors.Add($"`{first.BuildCommand}` failed; run it to see why. Its last lines:\n{string.Join('\n', log.Split('\n').TakeLast(8))}");
        }
        foreach (var m in missing.Where(m => m.Project is null))
            say($"notebook {m.Notebook}, cell {m.Cell}: #r \"{m.Path}\" does not exist, and no project's build output is at that path; build what provides it");
        return errors;
    }

    [GeneratedRegex(@"^\s*#r\s+""(?!nuget:)([^""]+\.dll)""", RegexOptions.Multiline)]
    private static partial Regex FileReference();
}
