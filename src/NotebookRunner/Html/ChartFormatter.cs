using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace NotebookRunner;

/// <summary>
/// The runner's stand-in for the Plotly.NET.Interactive kernel extension (not served by the package registry): a
/// Plotly.NET chart displays as text/html — a div and a script calling Plotly.newPlot, with plotly.js referenced from
/// its CDN for live notebooks; handouts replace that reference with the library inlined once per page.
/// </summary>
public static class ChartFormatter
{
    public const string CdnUrl = "https://cdn.plot.ly/plotly-2.28.0.min.js";

    public static void Register() =>
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(Html(chart)), HtmlFormatter.MimeType);

    public static string Html(GenericChart chart) => GenericChart.toChartHTML(chart);
}
