using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;

namespace EfficientAttention.Notebooks;

/// <summary>
/// Rows shown as a table: one column per public property of the row type, in declaration order, headed by the
/// property's name — so a notebook cell ending in <c>Table.Of(rows)</c> displays a plain HTML table (and aligned text
/// where HTML is not shown), not the kernel's tree of objects with type-name headers.
/// </summary>
public sealed class Table
{
    private Table(IReadOnlyList<string> columns, IReadOnlyList<string[]> rows) => (Columns, Rows) = (columns, rows);

    public IReadOnlyList<string> Columns { get; }
    public IReadOnlyList<string[]> Rows { get; }

    /// <summary>A table of <paramref name="rows"/>; doubles are shown with up to 6 significant digits.</summary>
    public static Table Of<T>(IEnumerable<T> rows)
    {
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToArray();
        var cells = rows.Select(row => properties.Select(p => Text(p.GetValue(row))).ToArray()).ToList();
        return new Table(properties.Select(p => p.Name).ToArray(), cells);
    }

    private static string Text(object? value) => value switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public string ToHtml()
    {
        var html = new StringBuilder("<table><thead><tr>");
        foreach (var c in Columns) html.Append("<th>").Append(WebUtility.HtmlEncode(c)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row) html.Append("<td>").Append(WebUtility.HtmlEncode(cell)).Append("</td>");
            html.Append("</tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    public override string ToString()
    {
        var widths = Columns.Select((c, i) => Rows.Select(r => r[i].Length).Append(c.Length).Max()).ToArray();
        string Line(IEnumerable<string> cells) => string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd();
        return string.Join("\n", new[] { Line(Columns), Line(widths.Select(w => new string('-', w))) }.Concat(Rows.Select(Line)));
    }
}
