using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Markdig;

namespace NotebookRunner;

/// <summary>
/// An executed notebook as one self-contained HTML page: markdown through Markdig, its math typeset by KaTeX (inlined
/// once per page, MathML output: no font files), code and outputs in order (long lines scroll), and plotly.js (from
/// the Plotly.NET package) inlined once when a chart is present — so the page works offline.
/// </summary>
public static partial class Handout
{
    /// <summary>
    /// Markdig's advanced extensions (tables, footnotes, …) without its math (<see cref="MarkdownMath"/> takes the TeX out
    /// first, as Jupyter does) and without generic attributes, whose <c>{…}</c> syntax would eat TeX groups.
    /// </summary>
    private static readonly MarkdownPipeline Markdown = Pipeline();

    private static MarkdownPipeline Pipeline()
    {
        var builder = new MarkdownPipelineBuilder().UseAdvancedExtensions();
        builder.Extensions.TryRemove<Markdig.Extensions.GenericAttributes.GenericAttributesExtension>();
        builder.Extensions.TryRemove<Markdig.Extensions.Mathematics.MathExtension>();
        return builder.Build();
    }

    /// <summary>Notebook markdown to HTML, its math kept as TeX for KaTeX.</summary>
    public static string MarkdownToHtml(string markdown)
    {
        var extracted = MarkdownMath.Protect(markdown);
        return MarkdownMath.Restore(Markdig.Markdown.ToHtml(extracted.Markdown, Markdown), extracted.Math);
    }

    public static void Write(Notebook notebook, string title, string path)
    {
        AtomicText.Write(path, Render(notebook, title));
    }

    public static string Render(Notebook notebook, string title)
    {
        var body = new StringBuilder();
        foreach (var cell in notebook.CellObjects)
        {
            var source = Notebook.Source(cell);
            var kind = cell["cell_type"]!.GetValue<string>();
            if (kind == "markdown" || CellKernels.Of(cell, "csharp").Name == "markdown")
            {
                var text = source.StartsWith("#!markdown", StringComparison.Ordinal) ? source.Split('\n', 2).ElementAtOrDefault(1) ?? "" : source;
                body.Append("<section class=\"markdown\">").Append(MarkdownToHtml(text)).Append("</section>\n");
                continue;
            }
            if (kind != "code") continue;
            var count = cell["execution_count"]?.GetValue<int>();
            body.Append($"<section class=\"code\"><div class=\"prompt\">[{count?.ToString() ?? " "}]</div><pre class=\"source\"><code>{WebUtility.HtmlEncode(source)}</code></pre>\n");
            foreach (var output in (cell["outputs"] as JsonArray ?? []).OfType<JsonObject>())
                body.Append("<div class=\"output\">").Append(RenderOutput(output)).Append("</div>\n");
            body.Append("</section>\n");
        }
        var content = CdnScript().Replace(body.ToString(), "");
        bool charts = content.Contains("Plotly.newPlot", StringComparison.Ordinal);
        bool math = content.Contains("class=\"math", StringComparison.Ordinal);
        return $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{WebUtility.HtmlEncode(title)}}</title>
            <style>
            body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
            pre { overflow-x: auto; padding: .6rem .8rem; border-radius: 4px; white-space: pre; max-width: 100%; box-sizing: border-box; }
            section, .output { min-width: 0; max-width: 100%; }
            math[display="block"] { margin: .6rem 0; overflow-x: auto; overflow-y: hidden; }
            .source { background: #f5f6f8; border-left: 3px solid #5b7fbf; }
            .prompt { color: #888; font: .8rem monospace; }
            .output { margin: .3rem 0 1rem 0; overflow-x: auto; }
            .output pre { background: #fff; border: 1px solid #e4e4e4; }
            .error pre, pre.error { background: #fff3f3; border-color: #e5a5a5; color: #8b0000; }
            .math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", serif; color: #203060; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .2rem .5rem; }
            img { max-width: 100%; }
            </style>
            {{(charts ? "<script>" + PlotlyJs() + "</script>" : "")}}
            </head>
            <body>
            <main>
            {{content}}
            </main>
            {{(math ? MathScript() : "")}}
            </body>
            </html>
            """;
    }

    private static string RenderOutput(JsonObject output)
    {
        switch (output["output_type"]?.GetValue<string>())
        {
            case "stream":
                return $"<pre class=\"stream\">{WebUtility.HtmlEncode(Text(output["text"]))}</pre>";
            case "error":
                return $"<pre class=\"error\">{WebUtility.HtmlEncode(output["ename"] + ": " + output["evalue"] + "\n" + string.Join("\n", (output["traceback"] as JsonArray ?? []).Select(t => t?.GetValue<string>())))}</pre>";
            case "display_data" or "execute_result":
                var data = output["data"] as JsonObject ?? [];
                if (data["text/html"] is { } html) return Text(html);
                if (data["image/png"] is { } png) return $"<img alt=\"figure\" src=\"data:image/png;base64,{Text(png).Trim()}\">";
                if (data["image/svg+xml"] is { } svg) return Text(svg);
                if (data["text/markdown"] is { } md) return MarkdownToHtml(Text(md));
                if (data["text/latex"] is { } tex) return $"<div class=\"math\">{WebUtility.HtmlEncode(Text(tex))}</div>";
                if (data["text/plain"] is { } plain) return $"<pre>{WebUtility.HtmlEncode(Text(plain))}</pre>";
                return "";
            default:
                return "";
        }
    }

    private static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    [GeneratedRegex(@"<script[^>]*src=""https://cdn\.plot\.ly/[^""]+""[^>]*>\s*</script>")]
    private static partial Regex CdnScript();

    private static string? mathScript;

    /// <summary>
    /// KaTeX and its auto-render extension (embedded at build time, see build/KaTeX.targets), typesetting the page's
    /// \( … \) and \[ … \] (what Markdig writes for $…$ and $$…$$) as MathML; empty if the build had no KaTeX.
    /// </summary>
    public static string MathScript()
    {
        if (mathScript is not null) return mathScript;
        var assembly = typeof(Handout).Assembly;
        string? Read(string name)
        {
            using var stream = assembly.GetManifestResourceStream(name);
            return stream is null ? null : new StreamReader(stream).ReadToEnd().Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
        }
        var (katex, autoRender) = (Read("katex.min.js"), Read("katex-auto-render.min.js"));
        if (katex is null || autoRender is null)
        {
            Console.Error.WriteLine("warning: this runner was built without KaTeX (no network at build time); handouts show TeX as text");
            return mathScript = "";
        }
        return mathScript = $$"""
            <script>{{katex}}</script>
            <script>{{autoRender}}</script>
            <script>
            renderMathInElement(document.body, { output: "mathml", throwOnError: false, delimiters: [
              { left: "\\[", right: "\\]", display: true }, { left: "$$", right: "$$", display: true }, { left: "\\(", right: "\\)", display: false } ] });
            </script>
            """;
    }

    private static string? plotlyJs;

    /// <summary>plotly.min.js as embedded in the Plotly.NET package (2.28.0 for Plotly.NET 6.0.0).</summary>
    public static string PlotlyJs()
    {
        if (plotlyJs is not null) return plotlyJs;
        var dll = Path.Combine(AppContext.BaseDirectory, "assets", "Plotly.NET.dll");
        return plotlyJs = EmbeddedResource.ReadText(dll, n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
            .Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
    }
}
