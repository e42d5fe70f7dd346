using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NotebookRunner;

/// <summary>
/// Static copies of charts, rendered by headless Chromium from a page with plotly.js inlined, so a notebook shows its
/// figures where scripts do not run (GitHub, an untrusted or offline Jupyter). Each chart output gets the picture twice:
/// as an <c>&lt;img class="ea-chart-fallback"&gt;</c> inside its <c>text/html</c> — what viewers that prefer HTML show,
/// and what the chart's script removes once plotly has drawn — and as <c>image/png</c> for viewers that skip HTML.
/// Needs a Chromium or Chrome binary on PATH; without one the runner says so and skips it.
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
            text = Fallback().Replace(text, "");
            if (Render(text, browser) is not { } png) continue;
            var base64 = Convert.ToBase64String(png);
            data["image/png"] = base64;
            data["text/html"] = Notebook.Lines(WithFallback(text, base64));
            rendered++;
        }
        return rendered;
    }

    /// <summary>The class of a chart's static picture; EfficientAttention.Notebooks.ChartDisplay's script removes it once drawn.</summary>
    public const string FallbackClass = "ea-chart-fallback";

    /// <summary>The chart's HTML with its picture right after the div plotly draws into (inside the same parent).</summary>
    public static string WithFallback(string chartHtml, string pngBase64)
    {
        var img = $"<img class=\"{FallbackClass}\" alt=\"the chart as a static picture (the interactive chart replaces it where scripts run)\" " +
                  $"style=\"max-width:100%\" src=\"data:image/png;base64,{pngBase64}\"/>";
        var div = ChartDiv().Match(chartHtml);
        return div.Success ? chartHtml.Insert(div.Index + div.Length, img) : img + chartHtml;
    }

    [GeneratedRegex(@"<img class=""ea-chart-fallback""[^>]*/>")]
    private static partial Regex Fallback();
    [GeneratedRegex(@"<div id=""[^""]+""><!-- Plotly chart will be drawn inside this DIV --></div>")]
    private static partial Regex ChartDiv();

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
