using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace NotebookRunner;

/// <summary>
/// The runner's stand-in for the Plotly.NET.Interactive kernel extension (not served by the package registry): a
/// Plotly.NET chart displays as text/html — a div and a script calling Plotly.newPlot, with plotly.js referenced from
/// its CDN for live notebooks; handouts replace that reference with the library inlined once per page.
/// </summary>
public static partial class ChartFormatter
{
    public const string CdnUrl = "https://cdn.plot.ly/plotly-2.28.0.min.js";

    public static void Register()
    {
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(Html(chart)), HtmlFormatter.MimeType);
        Formatter.Register<GenericChart>((_, writer) => writer.Write("[interactive Plotly chart: open the notebook in a viewer that runs scripts, or its HTML handout]"), PlainTextFormatter.MimeType);
    }

    /// <summary>
    /// Plotly.NET's chart HTML, whose final render call is made to wait for plotly.js: immediate where the page already
    /// has it (handouts inline it), else after loading it from the CDN (a live notebook).
    /// </summary>
    public static string Html(GenericChart chart) => RenderCall().Replace(GenericChart.toChartHTML(chart), m =>
        $"\nif (typeof Plotly !== 'undefined') {{ {m.Groups[1].Value}(); }} else {{ var s = document.createElement('script'); " +
        $"s.src = '{CdnUrl}'; s.onload = {m.Groups[1].Value}; document.head.appendChild(s); }}\n");

    [System.Text.RegularExpressions.GeneratedRegex(@"\n(renderPlotly_\w+)\(\);\s*\n")]
    private static partial System.Text.RegularExpressions.Regex RenderCall();
}
