using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace NotebookRunner;

/// <summary>
/// Math in notebook markdown, handled as Jupyter handles it: the TeX between <c>$$…$$</c> (may span lines),
/// <c>\[…\]</c>, <c>$…$</c> and <c>\(…\)</c> is taken out before the markdown is rendered (so <c>\!</c>, <c>_</c>, <c>*</c>
/// and <c>{…}</c> inside it stay TeX) and put back afterwards as <c>\[…\]</c> / <c>\(…\)</c> in an element of class
/// <c>math</c>, for KaTeX to typeset. Code spans and fenced code are left alone.
/// </summary>
public static partial class MarkdownMath
{
    public sealed record Extracted(string Markdown, IReadOnlyList<(string Tex, bool Display)> Math);

    public static Extracted Protect(string markdown)
    {
        var math = new List<(string, bool)>();
        var text = new StringBuilder();
        var position = 0;
        foreach (Match m in Tokens().Matches(markdown))
        {
            text.Append(markdown, position, m.Index - position);
            position = m.Index + m.Length;
            if (m.Groups["code"].Success) { text.Append(m.Value); continue; }
            var (tex, display) = m.Groups["dd"].Success ? (m.Groups["dd"].Value, true)
                : m.Groups["bracket"].Success ? (m.Groups["bracket"].Value, true)
                : m.Groups["paren"].Success ? (m.Groups["paren"].Value, false)
                : (m.Groups["d"].Value, false);
            text.Append(Placeholder(math.Count));
            math.Add((tex, display));
        }
        text.Append(markdown, position, markdown.Length - position);
        return new Extracted(text.ToString(), math);
    }

    /// <summary>Puts the math back into the rendered HTML (escaped; a display formula in a div, inline in a span).</summary>
    public static string Restore(string html, IReadOnlyList<(string Tex, bool Display)> math) =>
        PlaceholderPattern().Replace(html, m =>
        {
            var (tex, display) = math[int.Parse(m.Groups[1].Value)];
            var escaped = WebUtility.HtmlEncode(tex);
            return display ? $"<span class=\"math display\">\\[{escaped}\\]</span>" : $"<span class=\"math\">\\({escaped}\\)</span>";
        });

    private static string Placeholder(int index) => $"MATHxPLACEHOLDERx{index}x";

    [GeneratedRegex(@"MATHxPLACEHOLDERx(\d+)x")]
    private static partial Regex PlaceholderPattern();

    // Fenced code and code spans first (kept), then $$…$$, \[…\], \(…\), and $…$ within a line (not \$, not "$ 5").
    [GeneratedRegex(@"(?<code>^```[^\n]*\n.*?^```[ \t]*$|`+[^`\n]+`+)|\$\$(?<dd>.+?)\$\$|\\\[(?<bracket>.+?)\\\]|\\\((?<paren>.+?)\\\)|(?<![\\$])\$(?<d>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?!\d)",
                    RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex Tokens();
}
