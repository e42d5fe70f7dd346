using System.Text.Json.Nodes;
using Ganss.Xss;
using Microsoft.Playwright;

namespace NotebookRunner.Tests;

/// <summary>
/// Runs where .ci/run has set up Jupyter Notebook, the .NET kernel and Chromium (it sets NOTEBOOKS_JUPYTER_DATA to the
/// Jupyter data folder holding the kernelspec); elsewhere skipped with the reason.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public static readonly string? JupyterData = Environment.GetEnvironmentVariable("NOTEBOOKS_JUPYTER_DATA");

    public BrowserFactAttribute()
    {
        if (string.IsNullOrEmpty(JupyterData))
            Skip = "needs Jupyter Notebook, the .NET kernel and Chromium; .ci/run installs them and sets NOTEBOOKS_JUPYTER_DATA";
    }
}

/// <summary>
/// Notebook 00 in a real browser, in Debian's Jupyter Notebook with the .NET kernel, with the internet unreachable (no
/// request is intercepted or answered by the test): charts draw from the plotly.js that <c>kernel install</c> put into
/// the Jupyter data folder's nbextensions/.
/// </summary>
public class BrowserTests
{
    private const string Notebook00 = "00-attention-basics.ipynb";
    private static readonly string CommittedNotebook = Path.Combine(RunnerHarness.RepoRoot, "notebooks", Notebook00);

    /// <summary>Where screenshots go: $NOTEBOOKS_BROWSER_ARTIFACTS, else TestResults/browser beside the test assembly.</summary>
    private static string Artifacts => Directory.CreateDirectory(Environment.GetEnvironmentVariable("NOTEBOOKS_BROWSER_ARTIFACTS") is { Length: > 0 } a
        ? a : Path.Combine(AppContext.BaseDirectory, "TestResults", "browser")).FullName;

    private static bool InternetReachable()
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            return client.ConnectAsync("cdn.plot.ly", 443).Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException) { return false; }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    [Fact]
    public void Committed_charts_keep_their_picture_where_html_is_sanitised_and_scripts_do_not_run()
    {
        // As GitHub-like viewers show HTML outputs: scripts and event handlers removed, data: images kept.
        var sanitizer = new HtmlSanitizer();
        sanitizer.AllowedSchemes.Add("data");
        sanitizer.AllowedAttributes.Add("class");
        var nb = JsonNode.Parse(File.ReadAllText(CommittedNotebook))!;
        int charts = 0;
        foreach (var output in nb["cells"]!.AsArray().SelectMany(c => c!["outputs"]?.AsArray() ?? []))
        {
            var html = RunnerHarness.Text(output!["data"]?["text/html"]);
            if (!html.Contains("Plotly.newPlot", StringComparison.Ordinal)) continue;
            charts++;
            var shown = sanitizer.Sanitize(html);
            Assert.DoesNotContain("<script", shown);
            var src = System.Text.RegularExpressions.Regex.Match(shown, "<img[^>]*class=\"ea-chart-fallback\"[^>]*src=\"data:image/png;base64,([^\"]+)\"");
            Assert.True(src.Success, $"chart {charts} of {Notebook00} shows nothing without scripts");
            var png = Convert.FromBase64String(src.Groups[1].Value);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.True(png.Length > 5_000, $"chart {charts}: a {png.Length}-byte picture is too small to be the chart");
        }
        Assert.True(charts >= 3, $"{Notebook00} has only {charts} chart outputs");
    }

    [BrowserFact]
    public async Task Notebook_00_runs_in_Jupyter_Notebook_draws_its_charts_offline_and_listens_on_loopback_only()
    {
        var root = Directory.CreateTempSubdirectory("browser-test").FullName;
        try
        {
            var notebooks = Directory.CreateDirectory(Path.Combine(root, "notebooks")).FullName;
            Directory.CreateSymbolicLink(Path.Combine(root, "src"), Path.Combine(RunnerHarness.RepoRoot, "src"));   // for #r "../src/…"
            Directory.CreateSymbolicLink(Path.Combine(notebooks, "checkpoints"), Path.Combine(RunnerHarness.RepoRoot, "notebooks", "checkpoints"));   // read only
            File.Copy(CommittedNotebook, Path.Combine(notebooks, "committed.ipynb"));
            var quick = Notebook.Load(CommittedNotebook);
            Parameters.Inject(quick, new Dictionary<string, string> { ["Quick"] = "true" }, Notebook00);
            quick.Save(Path.Combine(notebooks, "quick.ipynb"));

            using var server = new JupyterServer(root, BrowserFactAttribute.JupyterData!);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ChartImages.FindBrowser() ?? "/usr/bin/chromium", Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            // No interception: the test runs with the internet unreachable (.ci/run starts it under `unshare -n`, loopback
            // up), so any request beyond this machine fails as it would in a lecture hall without network.
            Assert.False(InternetReachable(), "the browser test must run without network (unshare -n, loopback up), as .ci/run runs it");
            var requests = new List<string>();
            async Task<IPage> Open(string name)
            {
                var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
                page.Request += (_, request) => { lock (requests) requests.Add(request.Url); };
                await page.GotoAsync(server.Url($"notebooks/notebooks/{name}"));
                await page.WaitForFunctionAsync("() => window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()",
                    null, new() { Timeout = 180_000, PollingInterval = 500 });
                return page;
            }

            // 1. The committed notebook, untrusted and offline: every chart output shows its static picture.
            var committed = await Open("committed.ipynb");
            var pictures = await committed.EvaluateAsync<int>("() => [...document.querySelectorAll('.output_html img.ea-chart-fallback')].filter(i => i.complete && i.naturalWidth > 100).length");
            await committed.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "notebook-00-committed-untrusted.png"), FullPage = true });
            Assert.True(pictures >= 3, $"the committed notebook shows {pictures} chart pictures in Jupyter Notebook (untrusted, offline)");
            await committed.CloseAsync();

            // 2. Quick parameters, Cell → Run All through the UI.
            var page = await Open("quick.ipynb");
            await page.ClickAsync("#celllink");
            await page.ClickAsync("#run_all_cells");
            await page.WaitForFunctionAsync("""
                () => document.querySelector('.output_error') !== null
                   || Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code').every(c => typeof c.input_prompt_number === 'number')
                """, null, new() { Timeout = 600_000, PollingInterval = 1_000 });
            var listeners = ListeningSockets.Of(server.ProcessId);                    // while server and kernel run
            await page.WaitForTimeoutAsync(3_000);                                   // let the last charts draw
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "notebook-00-run-all.png"), FullPage = true });
            Console.WriteLine($"browser test: screenshots in {Artifacts}");

            // Every error output counts (its text need not say "error": "System.NullReferenceException: …"), and standard error that reports one.
            var errors = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('.output_error')].map(e => e.innerText).concat([...document.querySelectorAll('.output_stderr')].map(e => e.innerText).filter(t => /error|exception/i.test(t)))");
            Assert.True(errors.Length == 0, "error output in the browser: " + string.Join("\n", errors));
            var expected = await page.EvaluateAsync<int>("() => Jupyter.notebook.get_cells().flatMap(c => c.output_area ? c.output_area.outputs : []).filter(o => o.data && String(o.data['text/html'] || '').includes('Plotly.newPlot')).length");
            var drawn = await page.EvaluateAsync<int>("() => [...document.querySelectorAll('.output_html .js-plotly-plot')].filter(d => d.querySelector('svg.main-svg')).length");
            var leftPictures = await page.EvaluateAsync<int>("() => document.querySelectorAll('.output_html img.ea-chart-fallback').length");
            Assert.True(expected >= 3, $"the run produced only {expected} chart outputs");
            Assert.Equal(expected, drawn);                                              // plotly drew every chart (SVG present)
            Assert.Equal(0, leftPictures);                                              // fresh outputs carry no pictures
            Assert.DoesNotContain(requests, u => u.Contains("cdn.plot.ly", StringComparison.Ordinal));    // never needed the CDN:
            Assert.Contains(requests, u => u.Contains(KernelSpec.PlotlyScript, StringComparison.Ordinal));  // the server's copy drew them

            // 3. Nothing the run opened listens beyond loopback (server, kernel, its HTTP API).
            Assert.NotEmpty(listeners);
            Assert.True(listeners.All(l => ListeningSockets.IsLoopback(l.Address)),
                "listening beyond loopback: " + string.Join(", ", listeners.Where(l => !ListeningSockets.IsLoopback(l.Address)).Select(l => $"{l.Address}:{l.Port} (pid {l.Pid})")));
            Assert.Contains(listeners, l => l.Pid != server.ProcessId);                  // the kernel's own sockets were seen
        }
        finally
        {
            foreach (var link in new[] { Path.Combine(root, "src"), Path.Combine(root, "notebooks", "checkpoints") }) if (Directory.Exists(link)) Directory.Delete(link);   // the link, not its target
            Directory.Delete(root, recursive: true);
        }
    }
}
