using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NotebookRunner;

/// <summary>
/// Installs the .NET Interactive kernel for Jupyter the way this course runs it: the kernel tool
/// (<c>Microsoft.dotnet-interactive</c> <see cref="ToolVersion"/>) into a tool folder, and the ".NET (C#)" kernelspec
/// (<c>.net-csharp</c>, the name the notebooks ask for) into a Jupyter data folder, whose command names the tool by
/// absolute path (no PATH set-up needed) and binds the kernel's HTTP API to loopback (<c>--http-local-only</c>; by
/// default it listens on every interface). On Linux the kernel starts with glibc's malloc on huge pages
/// (<see cref="HugePagesTunable"/>, as the benchmark suite and the runner run), so timings measured in a notebook are
/// measured as the suite measures them. Beside the kernelspec it puts the plotly.js that Plotly.NET embeds into the
/// Jupyter data folder's <c>nbextensions/</c> (<see cref="PlotlyScript"/>), from where Jupyter Notebook serves it to
/// the charts' loader with no network.
/// </summary>
public static class KernelSpec
{
    public const string ToolPackage = "Microsoft.dotnet-interactive";
    public const string ToolVersion = "1.0.712001";
    public const string Name = ".net-csharp";

    /// <summary>Where plotly.js goes, relative to the Jupyter data folder (and to the server's base URL); the charts' loader asks for it there.</summary>
    public const string PlotlyScript = "nbextensions/efficient-attention/plotly-2.28.0.min.js";

    /// <summary>The environment the kernel, the runner and the benchmark suite share on Linux (see the README, "timings").</summary>
    public const string HugePagesTunable = EfficientAttention.Shared.HugePages.Tunable;

    /// <summary>Where Jupyter looks for user kernelspecs: $JUPYTER_DATA_DIR, else the per-OS user data folder.</summary>
    public static string DefaultDataDirectory()
    {
        if (Environment.GetEnvironmentVariable("JUPYTER_DATA_DIR") is { Length: > 0 } set) return set;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsWindows()) return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "jupyter");
        if (OperatingSystem.IsMacOS()) return Path.Combine(home, "Library", "Jupyter");
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "jupyter");
    }

    public static string ToolExecutable(string toolPath) => Path.Combine(toolPath, OperatingSystem.IsWindows() ? "dotnet-interactive.exe" : "dotnet-interactive");

    /// <summary>The kernelspec's kernel.json for the tool at <paramref name="executable"/>.</summary>
    public static JsonObject KernelJson(string executable, bool linux)
    {
        var spec = new JsonObject
        {
            ["argv"] = new JsonArray(executable, "jupyter", "--default-kernel", "csharp", "{connection_file}", "--http-local-only"),
            ["display_name"] = ".NET (C#)",
            ["language"] = "C#",
            ["metadata"] = new JsonObject { ["vscode"] = new JsonObject { ["extension_id"] = "ms-dotnettools.dotnet-interactive-vscode", ["kernel_id"] = "dotnet-interactive" } },
        };
        if (linux) spec["env"] = new JsonObject { ["GLIBC_TUNABLES"] = HugePagesTunable };
        return spec;
    }

    /// <summary>The kernelspec's kernel.json for this operating system.</summary>
    public static JsonObject KernelJson(string executable) => KernelJson(executable, OperatingSystem.IsLinux());

    /// <summary>Writes plotly.js (from Plotly.NET, beside the runner) to <see cref="PlotlyScript"/> under <paramref name="dataDirectory"/>; returns its path.</summary>
    public static string InstallPlotly(string dataDirectory)
    {
        var target = Path.Combine(Path.GetFullPath(dataDirectory), PlotlyScript.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        AtomicText.Write(target, Handout.PlotlyJs());
        return target;
    }

    /// <summary>Installs (or keeps) the tool and (re)writes the kernelspec; returns the kernelspec's folder.</summary>
    public static string Install(string toolPath, string dataDirectory, TextWriter log)
    {
        toolPath = Path.GetFullPath(toolPath);
        var executable = ToolExecutable(toolPath);
        var installed = Directory.Exists(Path.Combine(toolPath, ".store", ToolPackage.ToLowerInvariant(), ToolVersion));
        if (installed && File.Exists(executable)) log.WriteLine($"kernel: {ToolPackage} {ToolVersion} already in {toolPath}");
        else
        {
            log.WriteLine($"kernel: installing {ToolPackage} {ToolVersion} into {toolPath}");
            Run("dotnet", ["tool", File.Exists(executable) ? "update" : "install", ToolPackage, "--version", ToolVersion, "--tool-path", toolPath]);
        }

        // The tool writes its kernelspecs (kernel.json and logos) into a scratch folder; ours replaces its kernel.json.
        var scratch = Directory.CreateTempSubdirectory("kernelspec").FullName;
        try
        {
            Run(executable, ["jupyter", "install", "--path", scratch]);
            var spec = Path.Combine(scratch, Name);
            if (!File.Exists(Path.Combine(spec, "kernel.json"))) throw new InvalidOperationException($"{executable} jupyter install wrote no {Name} kernelspec into {scratch}");
            File.WriteAllText(Path.Combine(spec, "kernel.json"), KernelJson(executable).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

            var target = Path.Combine(Path.GetFullPath(dataDirectory), "kernels", Name);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var staged = target + ".new-" + Guid.NewGuid().ToString("N")[..8];
            CopyDirectory(spec, staged);
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.Move(staged, target);
            log.WriteLine($"kernel: kernelspec {Name} (\".NET (C#)\", HTTP API on loopback only{(OperatingSystem.IsLinux() ? ", " + HugePagesTunable : "")}) in {target}");
            log.WriteLine($"kernel: plotly.js for charts without network in {InstallPlotly(dataDirectory)}");
            return target;
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    private static void Run(string file, string[] arguments)
    {
        var (exitCode, output) = ChildProcess.Run(file, arguments);
        if (exitCode != 0)
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' failed with exit code {exitCode}: {output}");
    }
}

/// <summary>Runs a program to its end with its output captured (standard error first, then standard output).</summary>
internal static class ChildProcess
{
    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, (stderr + stdout.Result).Trim());
    }
}
