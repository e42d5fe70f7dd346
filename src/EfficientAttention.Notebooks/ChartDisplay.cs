using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace EfficientAttention.Notebooks;

/// <summary>
/// How a Plotly.NET chart displays in a notebook, so that it draws with no network in every frontend students use:
/// <list type="bullet">
/// <item><c>application/vnd.plotly.v1+json</c> (the figure: data, layout, config), which VS Code's notebook renderers and
/// JupyterLab's plotly renderer draw natively with the plotly.js they bundle — VS Code ranks <c>application/vnd.*</c>
/// above HTML;</item>
/// <item><c>text/html</c> holding a div and a script that calls <c>Plotly.newPlot</c> — at once where the page already
/// has plotly.js (handouts inline it), otherwise after loading it: first from the Jupyter server's own
/// <c>nbextensions/</c> folder, where <c>kernel install</c> puts the plotly.js that Plotly.NET embeds
/// (<see cref="LocalScript"/>; Jupyter Notebook 6 serves it), then from its CDN;</item>
/// <item><c>text/plain</c>, a sentence.</item>
/// </list>
/// Registered by <see cref="NotebookSession.Start"/>; it stands in for the Plotly.NET.Interactive extension, which cannot
/// load in the kernel (it needs a newer FSharp.Core than the kernel's) and whose output could not carry a static picture
/// for viewers that run no scripts.
/// </summary>
public static partial class ChartDisplay
{
    /// <summary>The plotly.js that Plotly.NET 6.0.0 embeds and references.</summary>
    public const string PlotlyVersion = "2.28.0";
    public const string CdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyVersion + ".min.js";

    /// <summary>The MIME type of a plotly figure as JSON (what plotly.py emits; Jupyter's renderers draw it offline).</summary>
    public const string PlotlyMimeType = "application/vnd.plotly.v1+json";

    /// <summary>Where <c>kernel install</c> puts plotly.js, relative to a Jupyter data folder and to the server's base URL.</summary>
    public const string LocalScript = "nbextensions/efficient-attention/plotly-" + PlotlyVersion + ".min.js";

    /// <summary>Marks a chart's static picture; the chart's script removes it once plotly has drawn.</summary>
    public const string FallbackClass = "ea-chart-fallback";

    /// <summary>What a chart's text/plain says (Plotly.NET's own is a dump of its object graph).</summary>
    public const string PlainText = "[interactive plotly chart: open the notebook in a viewer that runs scripts, or its HTML handout]";

    public static void Register()
    {
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(Html(Plots.RequireDistinctStyles(chart))), HtmlFormatter.MimeType);
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(FigureJson(Plots.RequireDistinctStyles(chart))), PlotlyMimeType);
        Formatter.Register<GenericChart>((_, writer) => writer.Write(PlainText), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), PlotlyMimeType, HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
        Formatter.Register<Table>((table, writer) => writer.Write(table.ToHtml()), HtmlFormatter.MimeType);
        Formatter.Register<Table>((table, writer) => writer.Write(table.ToString()), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(Table), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
    }

    /// <summary>The figure as plotly's JSON: <c>{"data": […], "layout": {…}, "config": {…}}</c>.</summary>
    public static string FigureJson(GenericChart chart) => GenericChart.toJson(chart);

    /// <summary>
    /// Plotly.NET's chart HTML with its final render call made to wait for plotly.js, and to remove the chart's static
    /// picture (a sibling element of class <see cref="FallbackClass"/>, added when a notebook is saved with pictures)
    /// once the chart is drawn. plotly.js comes from the page (handouts inline it), else from the Jupyter server's
    /// <see cref="LocalScript"/> with its CDN as the fallback — through require.js where the page has it (Jupyter
    /// Notebook: plotly.js then registers as an AMD module, not a global; the server's base URL is the body's
    /// <c>data-base-url</c>), else by script elements tried in turn (JupyterLab: base URL from its page config).
    /// </summary>
    public static string Html(GenericChart chart)
    {
        var html = GenericChart.toChartHTML(chart);
        var div = ChartDiv().Match(html).Groups[1].Value;
        return RenderCall().Replace(html, m => Loader(m.Groups[1].Value, div));
    }

    private static string Loader(string render, string div)
    {
        var local = LocalScript[..^".js".Length];
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
                var base = (document.body && document.body.getAttribute('data-base-url')) || '/';
                window.requirejs.config({ paths: { 'plotly-{{PlotlyVersion}}': [base + '{{local}}', '{{cdn}}'] } });
                window.requirejs(['plotly-{{PlotlyVersion}}'], {{render}}_draw);
            } else {
                var sources = [], config = document.getElementById('jupyter-config-data');
                try { if (config) sources.push(JSON.parse(config.textContent).baseUrl + '{{LocalScript}}'); } catch (e) { }
                sources.push('{{CdnUrl}}');
                var load = function(i) {
                    var s = document.createElement('script'); s.src = sources[i];
                    s.onload = function() { {{render}}_draw(window.Plotly); };
                    s.onerror = function() { if (i + 1 < sources.length) load(i + 1); };
                    document.head.appendChild(s);
                };
                load(0);
            }

            """;
    }

    [GeneratedRegex(@"<div id=""([^""]+)""><!-- Plotly chart will be drawn inside this DIV --></div>")]
    private static partial Regex ChartDiv();

    [GeneratedRegex(@"\n(renderPlotly_\w+)\(\);\s*\n")]
    private static partial Regex RenderCall();
}
