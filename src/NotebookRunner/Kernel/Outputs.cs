using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Formatting;

namespace NotebookRunner;

/// <summary>
/// Collects one cell's outputs in the order the kernel produces them, shaped as nbformat outputs: consecutive writes
/// to one stream merge into one <c>stream</c> output; each display is a <c>display_data</c>, replaced in place when the
/// kernel updates it (Jupyter's <c>update_display_data</c>: an update for a display this cell does not show is dropped,
/// as Jupyter drops it — in kernel 1.0.0-beta.26120.1 <c>DisplayedValue.Update</c> announces a new id, so an update
/// does not reach the original output in Jupyter either). Events may arrive on any thread.
/// </summary>
public sealed class OutputSink
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, JsonObject> displays = [];

    public JsonArray Outputs { get; } = new();

    public void Write(string stream, string text)
    {
        if (text.Length == 0) return;
        lock (gate)
        {
            if (Outputs.Count > 0 && Outputs[^1] is JsonObject last && last["output_type"]!.GetValue<string>() == "stream" && last["name"]!.GetValue<string>() == stream)
            {
                last["text"] = Notebook.Lines(string.Concat(last["text"]!.AsArray().Select(l => l!.GetValue<string>())) + text);
                return;
            }
            Outputs.Add(new JsonObject { ["name"] = stream, ["output_type"] = "stream", ["text"] = Notebook.Lines(text) });
        }
    }

    public void Display(string? valueId, IReadOnlyCollection<FormattedValue> values)
    {
        var output = new JsonObject { ["data"] = Data(values), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" };
        lock (gate)
        {
            Outputs.Add(output);
            if (valueId is not null) displays[valueId] = output;
        }
    }

    public void Update(string? valueId, IReadOnlyCollection<FormattedValue> values)
    {
        lock (gate)
        {
            if (valueId is not null && displays.TryGetValue(valueId, out var output)) output["data"] = Data(values);
        }
    }

    public void Result(IReadOnlyCollection<FormattedValue> values, int executionCount)
    {
        lock (gate) Outputs.Add(new JsonObject { ["data"] = Data(values), ["execution_count"] = executionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result" });
    }

    public void Error(string name, string message, IEnumerable<string> traceback)
    {
        lock (gate) Outputs.Add(new JsonObject
        {
            ["ename"] = name, ["evalue"] = message, ["output_type"] = "error", ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode)t!).ToArray()),
        });
    }

    /// <summary>
    /// A display's MIME bundle as nbformat stores it: JSON types (<c>application/json</c>, <c>application/…+json</c>)
    /// as JSON values, which renderers such as plotly's expect; everything else as a list of lines.
    /// </summary>
    internal static JsonObject Data(IEnumerable<FormattedValue> values)
    {
        var data = new JsonObject();
        foreach (var v in values) data[v.MimeType] = OutputsWriter.IsJson(v.MimeType) ? JsonNode.Parse(v.Value) : Notebook.Lines(v.Value);
        return data;
    }
}

/// <summary>Which output MIME types nbformat stores as JSON values rather than text.</summary>
public static class OutputsWriter
{
    public static bool IsJson(string mimeType) => mimeType == "application/json" || (mimeType.StartsWith("application/", StringComparison.Ordinal) && mimeType.EndsWith("+json", StringComparison.Ordinal));
}
