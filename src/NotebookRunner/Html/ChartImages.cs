using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NotebookRunner;

/// <summary>
/// Optional static copies of charts: each Plotly chart output also gets an <c>image/png</c>, rendered by headless
/// Chromium from a page with plotly.js inlined, so the notebook shows its figures where scripts do not run (GitHub,
/// some viewers). Needs a Chromium or Chrome binary on PATH; without one the runner says so and skips it.
/// </summary>
public static partial class ChartImages
{
    public static string? FindBrowser() =>
        new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);

    /// <summary>Adds image/png to every chart output of the executed notebook; returns how many were rendered.</summary>
    public static int Attach(Notebook notebook, string browser)
    {
        int rendered = 0;
        foreach (var output in notebook.CellObjects.SelectMany(c => (c["outputs"] as JsonArray ?? []).OfType<JsonObject>()))
        {
            if (output["data"] is not JsonObject data || data["text/html"] is not { } html) continue;
            var text = string.Concat((html as JsonArray ?? []).Select(l => l?.GetValue<string>()));
            if (!text.Contains("Plotly.newPlot", StringComparison.Ordinal)) continue;
            if (Render(text, browser) is { } png) { data["image/png"] = Convert.ToBase64String(png); rendered++; }
        }
        return rendered;
    }

    /// <summary>A PNG of one chart's HTML, sized from its layout (width/height), or null if the browser failed.</summary>
    public static byte[]? Render(string chartHtml, string browser)
    {
        int width = Size(WidthPattern(), chartHtml, 700), height = Size(HeightPattern(), chartHtml, 500);
        var dir = Directory.CreateTempSubdirectory("chart-png").FullName;
        try
        {
            var page = Path.Combine(dir, "chart.html");
            File.WriteAllText(page, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>{Handout.PlotlyJs()}</script><style>.modebar-container {{ display: none !important; }}</style></head><body style=\"margin:0\">{chartHtml}</body></html>");
            var png = Path.Combine(dir, "chart.png");
            var psi = new ProcessStartInfo(browser) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                                      "--disable-component-update", "--disable-sync", "--hide-scrollbars", $"--user-data-dir={Path.Combine(dir, "profile")}",
                                      $"--window-size={width},{height}", "--virtual-time-budget=5000", $"--screenshot={png}", new Uri(page).AbsoluteUri })
                psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(60_000)) { process.Kill(entireProcessTree: true); return null; }
            return File.Exists(png) ? File.ReadAllBytes(png) : null;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static int Size(Regex pattern, string html, int fallback)
    {
        var m = pattern.Match(html);
        return m.Success && int.TryParse(m.Groups[1].Value, out var v) && v is > 50 and < 5000 ? v + 20 : fallback;
    }

    [GeneratedRegex(@"var layout = \{""width"":(\d+)")]
    private static partial Regex WidthPattern();
    [GeneratedRegex(@"var layout = \{[^;]*?""height"":(\d+)")]
    private static partial Regex HeightPattern();
}
