using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NotebookRunner.Tests;

/// <summary>
/// Debian's Jupyter Notebook server on 127.0.0.1 (a free port, a random token, its own config/runtime folders) over a
/// temp root, with the kernelspecs of <c>JUPYTER_DATA_DIR</c>. Disposing stops it and everything it started.
/// </summary>
internal sealed class JupyterServer : IDisposable
{
    private readonly Process process;
    private readonly string home;

    public string Root { get; }
    public string Token { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public JupyterServer(string root, string jupyterData)
    {
        Root = root;
        home = Directory.CreateTempSubdirectory("jupyter-home").FullName;
        Port = FreePort();
        var psi = new ProcessStartInfo("jupyter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (var a in new[] { "notebook", "--no-browser", "--ip=127.0.0.1", $"--port={Port}", "--port-retries=0", $"--NotebookApp.token={Token}",
                                  $"--notebook-dir={root}" })
            psi.ArgumentList.Add(a);
        psi.Environment["JUPYTER_DATA_DIR"] = jupyterData;
        psi.Environment["JUPYTER_CONFIG_DIR"] = Path.Combine(home, "config");
        psi.Environment["JUPYTER_RUNTIME_DIR"] = Path.Combine(home, "runtime");
        psi.Environment["IPYTHONDIR"] = Path.Combine(home, "ipython");
        psi.Environment["HOME"] = home;
        psi.Environment["PATH"] = "/usr/bin:/bin:" + Environment.GetEnvironmentVariable("PATH");   // Debian's jupyter and python3
        if (Environment.UserName == "root") psi.ArgumentList.Add("--allow-root");                 // CI containers run as root
        process = Process.Start(psi) ?? throw new InvalidOperationException("could not start jupyter notebook");
        Log = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (Log) Log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (Log) Log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        WaitUntilUp(TimeSpan.FromSeconds(60));
    }

    public System.Text.StringBuilder Log { get; }

    public int ProcessId => process.Id;

    public string Url(string path) => $"{BaseUrl}/{path}?token={Token}";

    private void WaitUntilUp(TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (process.HasExited) throw new InvalidOperationException($"jupyter notebook exited with code {process.ExitCode}: {Log}");
            try { if (http.GetAsync($"{BaseUrl}/api/status?token={Token}").Result.StatusCode == HttpStatusCode.OK) return; }
            catch (AggregateException) { }
            Thread.Sleep(500);
        }
        throw new TimeoutException($"jupyter notebook did not answer on {BaseUrl} within {limit.TotalSeconds} s: {Log}");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Dispose()
    {
        try { if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(10_000); } }
        finally
        {
            process.Dispose();
            Directory.Delete(home, recursive: true);
        }
    }
}
