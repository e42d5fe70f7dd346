using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive.Formatting;

namespace EfficientAttention.Notebooks.Tests;

public class ChartDisplayTests
{
    private static Plotly.NET.GenericChart Chart() => Plots.Bars("a chart", "x", "y", ["a", "b"], [1.0, 2.0]);

    [Fact]
    public void A_chart_displays_as_html_that_draws_once_plotly_is_there_and_then_drops_its_picture()
    {
        NotebookSession.Start();
        var html = Chart().ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("Plotly.newPlot", html);
        Assert.Contains("window.requirejs(['plotly-", html);                              // Jupyter Notebook: through require.js,
        var local = html.IndexOf($"base + '{ChartDisplay.LocalScript[..^3]}'", StringComparison.Ordinal);   // the server's copy first,
        var cdn = html.IndexOf($"'{ChartDisplay.CdnUrl[..^3]}'", StringComparison.Ordinal);            // its CDN as the fallback
        Assert.True(local > 0 && cdn > local, "require.js paths: the server's plotly.js, then the CDN");
        Assert.Contains($"sources.push('{ChartDisplay.CdnUrl}')", html);                  // elsewhere script elements in turn
        Assert.Contains("if (typeof window.Plotly !== 'undefined')", html);                   // a handout has it inlined
        Assert.Contains($".querySelector('.{ChartDisplay.FallbackClass}')", html);      // the static picture goes once drawn
        Assert.DoesNotMatch(@"\nrenderPlotly_\w+\(\);", html);                          // no unconditional call is left
        var div = System.Text.RegularExpressions.Regex.Match(html, "<div id=\"([^\"]+)\"><!-- Plotly chart").Groups[1].Value;
        Assert.Contains($"document.getElementById('{div}')", html);                     // the picture beside this chart goes
        Assert.Equal(ChartDisplay.PlainText, Chart().ToDisplayString(PlainTextFormatter.MimeType));
        Assert.Equal([ChartDisplay.PlotlyMimeType, HtmlFormatter.MimeType, PlainTextFormatter.MimeType], Formatter.GetPreferredMimeTypesFor(typeof(Plotly.NET.GenericChart)));
    }

    [Fact]
    public void A_chart_also_displays_as_plotly_json_that_offline_renderers_draw()
    {
        NotebookSession.Start();
        var figure = System.Text.Json.Nodes.JsonNode.Parse(Chart().ToDisplayString(ChartDisplay.PlotlyMimeType))!.AsObject();
        var trace = figure["data"]!.AsArray().Single()!;
        Assert.Equal("bar", trace["type"]!.GetValue<string>());
        Assert.Equal([1.0, 2.0], trace["y"]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Equal("a chart", figure["layout"]!["title"]!["text"]!.GetValue<string>());
        Assert.NotNull(figure["config"]);
        Assert.DoesNotContain("http", figure.ToJsonString());                             // nothing to fetch: the renderer brings plotly.js
    }

    [Fact]
    public void FSharp_core_requests_of_any_version_bind_to_the_loaded_one()
    {
        var loaded = typeof(Microsoft.FSharp.Core.FSharpOption<int>).Assembly;
        var newer = new AssemblyName($"FSharp.Core, Version={loaded.GetName().Version!.Major}.{loaded.GetName().Version!.Minor + 5}.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a");
        Assert.Same(loaded, NotebookSession.BindFSharpCore(AssemblyLoadContext.Default, newer));
        Assert.Null(NotebookSession.BindFSharpCore(AssemblyLoadContext.Default, new AssemblyName("Something.Else, Version=1.0.0.0")));
    }
}
