using System.Text;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Formatting;

namespace NotebookRunner;

/// <summary>
/// Collects one cell's outputs in the order they happen, shaped as nbformat outputs: consecutive writes to the same
/// stream merge into one <c>stream</c> output; each display is a <c>display_data</c> that its handle can replace.
/// </summary>
public sealed class OutputSink
{
    public JsonArray Outputs { get; } = new();

    public void Write(string stream, string text)
    {
        if (text.Length == 0) return;
        if (Outputs.Count > 0 && Outputs[^1] is JsonObject last && last["output_type"]!.GetValue<string>() == "stream" && last["name"]!.GetValue<string>() == stream)
        {
            var lines = last["text"]!.AsArray();
            var merged = string.Concat(lines.Select(l => l!.GetValue<string>())) + text;
            last["text"] = Notebook.Lines(merged);
            return;
        }
        Outputs.Add(new JsonObject { ["name"] = stream, ["output_type"] = "stream", ["text"] = Notebook.Lines(text) });
    }

    public JsonObject Display(object? value, string[] mimeTypes)
    {
        var output = new JsonObject { ["data"] = Formatting.Format(value, mimeTypes), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" };
        Outputs.Add(output);
        return output;
    }

    public void Update(JsonObject output, object? value, string[] mimeTypes) => output["data"] = Formatting.Format(value, mimeTypes);

    public void Result(object? value, int executionCount) => Outputs.Add(new JsonObject
    {
        ["data"] = Formatting.Format(value, []), ["execution_count"] = executionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result",
    });

    public void Error(string name, string message, IEnumerable<string> traceback) => Outputs.Add(new JsonObject
    {
        ["ename"] = name, ["evalue"] = message, ["output_type"] = "error", ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode)t!).ToArray()),
    });
}

/// <summary>A TextWriter that forwards to the current cell's sink (Console.Out / Console.Error while a cell runs).</summary>
public sealed class SinkWriter(string stream, Func<OutputSink?> sink, TextWriter fallback) : TextWriter
{
    public override Encoding Encoding => Encoding.UTF8;
    public override void Write(char value) => Write(value.ToString());
    public override void Write(string? value)
    {
        if (value is null) return;
        if (sink() is { } s) s.Write(stream, value); else fallback.Write(value);
    }
    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));
}

/// <summary>Values to MIME bundles through Microsoft.DotNet.Interactive.Formatting, as the .NET Interactive kernel does.</summary>
public static class Formatting
{
    public static JsonObject Format(object? value, string[] mimeTypes)
    {
        var types = mimeTypes.Length > 0 ? mimeTypes
            : value is null ? [PlainTextFormatter.MimeType]
            : Formatter.GetPreferredMimeTypesFor(value.GetType()).ToArray();
        var data = new JsonObject();
        foreach (var type in types.Append(PlainTextFormatter.MimeType).Distinct())    // text/plain too, as Jupyter expects
            data[type] = Notebook.Lines(value is null ? "<null>" : value.ToDisplayString(type));
        return data;
    }
}

/// <summary>Formatters for the kernel types the runner provides (LaTeX, math, tables), registered at start-up.</summary>
public static class KernelFormatters
{
    public static void Register()
    {
        Formatter.Register<Microsoft.DotNet.Interactive.LaTeXString>((v, w) => w.Write(v.ToString()), "text/latex");
        Formatter.Register<Microsoft.DotNet.Interactive.MathString>((v, w) => w.Write($"$${v}$$"), "text/latex");
        Formatter.SetPreferredMimeTypesFor(typeof(Microsoft.DotNet.Interactive.LaTeXString), "text/latex");
        Formatter.SetPreferredMimeTypesFor(typeof(Microsoft.DotNet.Interactive.MathString), "text/latex");
        Formatter.Register(typeof(Microsoft.DotNet.Interactive.TabularData<>), (object value, TextWriter writer) => writer.Write(TableHtml(value)), "text/html");
        Formatter.Register(typeof(Microsoft.DotNet.Interactive.TabularData<>), (object value, TextWriter writer) => writer.Write(TableCsv(value)), "text/csv");
    }

    private static (IEnumerable<object?> Rows, System.Reflection.PropertyInfo[] Columns) Parts(object table)
    {
        var type = table.GetType();
        return (((System.Collections.IEnumerable)type.GetProperty("Rows")!.GetValue(table)!).Cast<object?>(), (System.Reflection.PropertyInfo[])type.GetProperty("Columns")!.GetValue(table)!);
    }

    private static string TableHtml(object table)
    {
        var (rows, columns) = Parts(table);
        var html = new StringBuilder("<table><thead><tr>");
        foreach (var c in columns) html.Append($"<td><span>{System.Net.WebUtility.HtmlEncode(c.Name)}</span></td>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            html.Append("<tr>");
            foreach (var c in columns)
            {
                var v = row is null ? null : c.GetValue(row);
                html.Append("<td>").Append(v is string s ? System.Net.WebUtility.HtmlEncode(s) : $"<div class=\"dni-plaintext\"><pre>{System.Net.WebUtility.HtmlEncode(v?.ToString() ?? "<null>")}</pre></div>").Append("</td>");
            }
            html.Append("</tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    private static string TableCsv(object table)
    {
        var (rows, columns) = Parts(table);
        static string Field(object? v)
        {
            var s = Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "";
            return s.IndexOfAny([',', '"', '\n', ' ']) >= 0 && (s.Contains(',') || s.Contains('"') || s.Contains('\n') || s != s.Trim())
                ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        }
        var csv = new StringBuilder(string.Join(",", columns.Select(c => Field(c.Name)))).Append("\r\n");
        foreach (var row in rows) csv.Append(string.Join(",", columns.Select(c => Field(row is null ? null : c.GetValue(row))))).Append("\r\n");
        return csv.ToString();
    }
}
