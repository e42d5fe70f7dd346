using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace EfficientAttention.Notebooks;

/// <summary>
/// How a Plotly.NET chart displays in a notebook: <c>text/html</c> holding a div and a script that calls
/// <c>Plotly.newPlot</c> — at once where the page already has plotly.js (handouts inline it), otherwise after loading
/// it from its CDN (a live notebook). Registered by <see cref="NotebookSession.Start"/>; it stands in for the
/// Plotly.NET.Interactive extension, which cannot load in the kernel (it needs a newer FSharp.Core than the kernel's)
/// and whose output could not carry a static picture for viewers that run no scripts.
/// </summary>
public static partial class ChartDisplay
{
    /// <summary>The plotly.js that Plotly.NET 6.0.0 embeds and references.</summary>
    public const string PlotlyVersion = "2.28.0";
    public const string CdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyVersion + ".min.js";

    /// <summary>Marks a chart's static picture; the chart's script removes it once plotly has drawn.</summary>
    public const string FallbackClass = "ea-chart-fallback";

    /// <summary>What a chart's text/plain says (Plotly.NET's own is a dump of its object graph).</summary>
    public const string PlainText = "[interactive plotly chart: open the notebook in a viewer that runs scripts, or its HTML handout]";

    public static void Register()
    {
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(Html(chart)), HtmlFormatter.MimeType);
        Formatter.Register<GenericChart>((_, writer) => writer.Write(PlainText), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
        Formatter.Register<Table>((table, writer) => writer.Write(table.ToHtml()), HtmlFormatter.MimeType);
        Formatter.Register<Table>((table, writer) => writer.Write(table.ToString()), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(Table), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
    }

    /// <summary>
    /// Plotly.NET's chart HTML with its final render call made to wait for plotly.js, and to remove the chart's static
    /// picture (a sibling element of class <see cref="FallbackClass"/>, added when a notebook is saved with pictures)
    /// once the chart is drawn. plotly.js comes from the page (handouts inline it), else from its CDN — through
    /// require.js where the page has it (Jupyter Notebook: plotly.js then registers as an AMD module, not a global),
    /// else by a script element (VS Code, JupyterLab).
    /// </summary>
    public static string Html(GenericChart chart)
    {
        var html = GenericChart.toChartHTML(chart);
        var div = ChartDiv().Match(html).Groups[1].Value;
        return RenderCall().Replace(html, m => Loader(m.Groups[1].Value, div));
    }

    private static string Loader(string render, string div)
    {
        var cdn = CdnUrl[..^".js".Length];
        return $$"""

            var {{render}}_draw = function(p) {
                if (p && typeof window.Plotly === 'undefined') window.Plotly = p;
                {{render}}();
                var d = document.getElementById('{{div}}'), f = d && d.parentElement && d.parentElement.querySelector('.{{FallbackClass}}');
                if (f) f.remove();
            };
            if (typeof window.Plotly !== 'undefined') { {{render}}_draw(window.Plotly); }
            else if (typeof window.requirejs === 'function' && typeof window.define === 'function' && window.define.amd) {
                window.requirejs.config({ paths: { 'plotly-{{PlotlyVersion}}': '{{cdn}}' } });
                window.requirejs(['plotly-{{PlotlyVersion}}'], {{render}}_draw);
            } else {
                var s = document.createElement('script'); s.src = '{{CdnUrl}}';
                s.onload = function() { {{render}}_draw(window.Plotly); }; document.head.appendChild(s);
            }

            """;
    }

    [GeneratedRegex(@"<div id=""([^""]+)""><!-- Plotly chart will be drawn inside this DIV --></div>")]
    private static partial Regex ChartDiv();

    [GeneratedRegex(@"\n(renderPlotly_\w+)\(\);\s*\n")]
    private static partial Regex RenderCall();
}
