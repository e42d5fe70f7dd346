using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace NotebookRunner;

public sealed class NuGetException(string message) : Exception(message);

/// <summary>
/// Resolves <c>#r "nuget: …"</c> by a real NuGet restore: a generated project with those package references is built
/// once into a cache folder (keyed by packages and sources), and its output assemblies are referenced. Packages whose
/// assemblies the runner already has loaded (the library's TorchSharp, Plotly.NET, the formatting package) are reused,
/// not loaded twice; Plotly.NET.Interactive (not served by the registry) is replaced by the runner's own chart formatter.
/// </summary>
public sealed class NuGetResolver(string? cacheRoot = null)
{
    public string CacheRoot { get; } = cacheRoot ?? Environment.GetEnvironmentVariable("NOTEBOOK_RUNNER_CACHE")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "efficient-attention-notebooks", "nuget");

    /// <summary>Packages handled without a restore, and why.</summary>
    public static string? BuiltIn(string package) => package.ToLowerInvariant() switch
    {
        "plotly.net.interactive" => "Plotly.NET.Interactive is replaced by the runner's built-in chart formatter",
        "microsoft.dotnet.interactive" or "microsoft.dotnet.interactive.csharp" => "the runner provides the kernel API it needs",
        _ => null,
    };

    public IReadOnlyList<string> Resolve(IReadOnlyList<(string Name, string? Version)> packages, IReadOnlyList<string> sources)
    {
        var paths = new List<string>();
        var toRestore = new List<(string Name, string? Version)>();
        foreach (var (name, version) in packages)
        {
            if (BuiltIn(name) is not null) continue;
            var loaded = LoadedFor(name);
            if (loaded.Count > 0) paths.AddRange(loaded); else toRestore.Add((name, version));
        }
        if (toRestore.Count > 0) paths.AddRange(Restore(toRestore, sources));
        return paths;
    }

    /// <summary>Assemblies of a package the runner already has: the package's main assembly by name (TorchSharp-cpu → TorchSharp).</summary>
    private static List<string> LoadedFor(string package)
    {
        var name = package.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || package.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) ? "TorchSharp" : package;
        foreach (var candidate in new[] { name })
        {
            try { Assembly.Load(candidate); } catch (IOException) { } catch (BadImageFormatException) { }
        }
        return AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.Location.Length > 0 && string.Equals(a.GetName().Name, name, StringComparison.OrdinalIgnoreCase))
            .Select(a => a.Location).Take(1).ToList();
    }

    private IEnumerable<string> Restore(List<(string Name, string? Version)> packages, IReadOnlyList<string> sources)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join(";", packages.Select(p => $"{p.Name}/{p.Version}").Order()) + "|" + string.Join(";", sources))))[..16];
        var dir = Path.Combine(CacheRoot, key);
        var output = Path.Combine(dir, "out");
        var done = Path.Combine(dir, ".complete");
        if (!File.Exists(done))
        {
            Directory.CreateDirectory(dir);
            var references = string.Join("\n", packages.Select(p => $"    <PackageReference Include=\"{p.Name}\" Version=\"{p.Version ?? "*"}\" />"));
            File.WriteAllText(Path.Combine(dir, "restore.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <CopyLocalLockFileAssemblies>true</CopyLocalLockFileAssemblies>
                    <NoWarn>$(NoWarn);NU1603;NU1701</NoWarn>
                    <RestoreAdditionalProjectSources>{string.Join(";", sources)}</RestoreAdditionalProjectSources>
                  </PropertyGroup>
                  <ItemGroup>
                {references}
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(dir, "Empty.cs"), "");
            var psi = new ProcessStartInfo("dotnet", ["build", Path.Combine(dir, "restore.csproj"), "-c", "Release", "-o", output, "--nologo", "-v", "q"])
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                var text = (stdout.Result + stderr).Split('\n').Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).Take(5);
                Directory.Delete(dir, recursive: true);
                throw new NuGetException($"#r \"nuget: {string.Join(", ", packages.Select(p => p.Version is null ? p.Name : $"{p.Name}, {p.Version}"))}\": the restore failed: {string.Join(" ", text).Trim()}");
            }
            File.WriteAllText(done, DateTime.UtcNow.ToString("O"));
        }
        return Directory.EnumerateFiles(output, "*.dll").Where(p => Path.GetFileName(p) != "restore.dll" && CSharpKernel.IsManaged(p));
    }
}
