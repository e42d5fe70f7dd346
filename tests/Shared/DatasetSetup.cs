using System.Diagnostics;
using EfficientAttention;

namespace EfficientAttention.Tests.Shared;

/// <summary>
/// Gets Fashion-MNIST for the tests that need the real dataset, the way the README's set-up does: where the loader finds
/// nothing, it runs <c>datasets/fetch.sh</c> (Linux/macOS: the Debian/Ubuntu package, else the official download, both
/// content-checked), or on Windows <see cref="FashionMnist.DownloadAsync"/> into <c>datasets/fashion-mnist/</c>. Once
/// per test process; a failure says what was tried and how to provide the files.
/// </summary>
public static class DatasetSetup
{
    private static readonly Lazy<string> fashionMnist = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding the four Fashion-MNIST files, installing them first where they are missing.</summary>
    public static string FashionMnistDirectory() => fashionMnist.Value;

    private static string Install()
    {
        try { return FashionMnist.Locate(); }
        catch (FileNotFoundException) { }
        var repo = RepositoryRoot();
        string log;
        if (OperatingSystem.IsWindows())
        {
            try { FashionMnist.DownloadAsync(Path.Combine(repo, FashionMnist.RepositoryDirectory)).GetAwaiter().GetResult(); log = "downloaded"; }
            catch (Exception e) when (e is HttpRequestException or InvalidDataException or TaskCanceledException) { log = e.Message; }
        }
        else log = Run("bash", Path.Combine(repo, "datasets", "fetch.sh"), repo);
        try { return FashionMnist.Locate(); }
        catch (FileNotFoundException e) { throw new FileNotFoundException($"The tests installed Fashion-MNIST as the README's set-up does, and it is still missing.\nSet-up said:\n{log}\n{e.Message}"); }
    }

    private static string Run(string file, string argument, string directory)
    {
        var start = new ProcessStartInfo(file, [argument]) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file} {argument}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return $"{file} {argument} (exit {process.ExitCode}):\n{stdout}{stderr.Result}";
    }

    /// <summary>The checkout's root: the first folder above the test binaries that holds <c>Notebooks.sln</c>.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Notebooks.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Notebooks.sln above {AppContext.BaseDirectory}");
    }
}
