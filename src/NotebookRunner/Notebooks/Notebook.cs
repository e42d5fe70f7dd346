using System.Text.Json;
using System.Text.Json.Nodes;

namespace NotebookRunner;

/// <summary>A notebook file is malformed or not nbformat 4; the message names the file and the problem.</summary>
public sealed class NotebookFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// An nbformat 4 notebook held as JSON nodes, so that metadata the runner does not know survives a round trip.
/// Knows the metadata VS Code's Polyglot Notebooks writes for C# (see <see cref="EnsurePolyglotMetadata"/>).
/// </summary>
public sealed class Notebook
{
    private Notebook(JsonObject root, string? path) { Root = root; Path = path; }

    public JsonObject Root { get; }
    public string? Path { get; }
    public JsonArray Cells => Root["cells"]!.AsArray();
    public IEnumerable<JsonObject> CellObjects => Cells.Select(c => c!.AsObject());

    public static Notebook Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Notebook {path} does not exist.", path);
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new NotebookFormatException($"{path}: not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e); }
        return FromJson(node, path);
    }

    public static Notebook Parse(string json, string? path = null)
    {
        try { return FromJson(JsonNode.Parse(json), path); }
        catch (JsonException e) { throw new NotebookFormatException($"{path ?? "notebook"}: not valid JSON (line {e.LineNumber + 1}): {e.Message}", e); }
    }

    private static Notebook FromJson(JsonNode? node, string? path)
    {
        string name = path ?? "notebook";
        if (node is not JsonObject root) throw new NotebookFormatException($"{name}: the top level is not a JSON object.");
        if (root["nbformat"]?.GetValueKind() != JsonValueKind.Number || root["nbformat"]!.GetValue<int>() != 4)
            throw new NotebookFormatException($"{name}: nbformat is {root["nbformat"]?.ToJsonString() ?? "missing"}; expected 4.");
        if (root["cells"] is not JsonArray cells) throw new NotebookFormatException($"{name}: no \"cells\" array.");
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject cell || cell["cell_type"]?.GetValueKind() != JsonValueKind.String)
                throw new NotebookFormatException($"{name}: cell {i + 1} has no cell_type.");
            if (cell["source"] is not (JsonArray or JsonValue)) throw new NotebookFormatException($"{name}: cell {i + 1} has no source.");
        }
        root["metadata"] ??= new JsonObject();
        return new Notebook(root, path);
    }

    /// <summary>A new empty C# notebook with the metadata Polyglot Notebooks writes.</summary>
    public static Notebook Create()
    {
        var nb = new Notebook(new JsonObject { ["cells"] = new JsonArray(), ["metadata"] = new JsonObject(), ["nbformat"] = 4, ["nbformat_minor"] = 5 }, null);
        nb.EnsurePolyglotMetadata();
        return nb;
    }

    public static string Source(JsonObject cell) => cell["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    /// <summary>Jupyter's layout: one string per line, each but the last ending in \n.</summary>
    public static JsonArray Lines(string text)
    {
        var array = new JsonArray();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') { array.Add(text[start..(i + 1)]); start = i + 1; }
        if (start < text.Length) array.Add(text[start..]);
        return array;
    }

    public JsonObject AddCell(string cellType, string source, string? kernel = "csharp")
    {
        var cell = new JsonObject { ["cell_type"] = cellType, ["id"] = NewId(), ["metadata"] = new JsonObject(), ["source"] = Lines(source) };
        if (cellType == "code") { cell["execution_count"] = null; cell["outputs"] = new JsonArray(); }
        Cells.Add(cell);
        SetCellKernel(cell, cellType == "markdown" ? "markdown" : kernel ?? "csharp");
        return cell;
    }

    /// <summary>
    /// Writes the metadata VS Code's Polyglot Notebooks expects for a C# notebook, keeping what is already there:
    /// kernelspec (.NET (C#) / C# / .net-csharp), language_info, polyglot_notebook.kernelInfo with default kernel csharp,
    /// per-cell dotnet_interactive.language and polyglot_notebook.kernelName, and nbformat 4.5 cell ids.
    /// </summary>
    public void EnsurePolyglotMetadata()
    {
        var metadata = Root["metadata"]!.AsObject();
        metadata["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" };
        metadata["language_info"] ??= new JsonObject { ["name"] = "polyglot-notebook" };
        metadata["polyglot_notebook"] ??= new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = "csharp",
                ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "csharp", ["name"] = "csharp" }),
            },
        };
        if ((Root["nbformat_minor"]?.GetValue<int>() ?? 0) < 5) Root["nbformat_minor"] = 5;
        var seen = new HashSet<string>();
        foreach (var cell in CellObjects)
        {
            var id = cell["id"]?.GetValue<string>();
            if (id is null || !seen.Add(id)) { id = NewId(); cell["id"] = id; seen.Add(id); }
            if (cell["cell_type"]!.GetValue<string>() == "code")
                SetCellKernel(cell, CellKernels.Of(cell, "csharp").Name);
        }
    }

    private static void SetCellKernel(JsonObject cell, string kernel)
    {
        if (kernel == "markdown") return;                                            // markdown cells carry no kernel metadata
        var metadata = (cell["metadata"] ??= new JsonObject()).AsObject();
        metadata["dotnet_interactive"] = new JsonObject { ["language"] = kernel };
        metadata["polyglot_notebook"] = new JsonObject { ["kernelName"] = kernel };
        metadata["vscode"] ??= new JsonObject { ["languageId"] = "polyglot-notebook" };
    }

    private static string NewId() => Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// The notebook as nbformat writes it (indented by one space), except that the values of JSON MIME types in outputs
    /// (a plotly figure: thousands of numbers) are written on one line each — indenting them would double a notebook's size.
    /// </summary>
    public string ToJson()
    {
        var encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        var compact = new JsonSerializerOptions { Encoder = encoder };
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, IndentSize = 1, Encoder = encoder }))
            Write(writer, Root, compactChildren: false);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";

        void Write(Utf8JsonWriter w, JsonNode? node, bool compactChildren)
        {
            switch (node)
            {
                case JsonObject o:
                    w.WriteStartObject();
                    foreach (var (key, value) in o)
                    {
                        w.WritePropertyName(key);
                        if (compactChildren && OutputsWriter.IsJson(key)) w.WriteRawValue(value?.ToJsonString(compact) ?? "null");
                        else Write(w, value, compactChildren: key == "data");
                    }
                    w.WriteEndObject();
                    break;
                case JsonArray a:
                    w.WriteStartArray();
                    foreach (var item in a) Write(w, item, compactChildren: false);
                    w.WriteEndArray();
                    break;
                case null: w.WriteNullValue(); break;
                default: node.WriteTo(w); break;
            }
        }
    }

    /// <summary>Writes the notebook through a temporary file and a rename: the target is never half-written.</summary>
    public void Save(string path)
    {
        AtomicText.Write(path, ToJson());
    }

    public Notebook Clone() => new(Root.DeepClone().AsObject(), Path);
}

/// <summary>Which kernel a cell is for: its first-line <c>#!name</c>, else its metadata, else the notebook's default.</summary>
public static class CellKernels
{
    public sealed record CellKernel(string Name, bool FromMagicLine);

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["csharp"] = "csharp", ["c#"] = "csharp", ["C#"] = "csharp",
        ["markdown"] = "markdown", ["md"] = "markdown",
        ["fsharp"] = "fsharp", ["f#"] = "fsharp", ["pwsh"] = "pwsh", ["powershell"] = "pwsh",
        ["javascript"] = "javascript", ["js"] = "javascript", ["html"] = "html", ["sql"] = "sql", ["kql"] = "kql",
        ["mermaid"] = "mermaid", ["value"] = "value", ["http"] = "http", ["python"] = "python", ["r"] = "r",
    };

    public static bool IsKernelName(string name) => Aliases.ContainsKey(name);

    public static CellKernel Of(JsonObject cell, string defaultKernel)
    {
        var first = Notebook.Source(cell).TrimStart().Split('\n', 2)[0].Trim();
        if (first.StartsWith("#!", StringComparison.Ordinal) && Aliases.TryGetValue(first[2..].Split(' ', 2)[0], out var named))
            return new CellKernel(named, true);
        var metadata = cell["metadata"] as JsonObject;
        var fromMetadata = metadata?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
                        ?? metadata?["dotnet_interactive"]?["language"]?.GetValue<string>();
        return new CellKernel(fromMetadata is not null && Aliases.TryGetValue(fromMetadata, out var k) ? k : fromMetadata ?? defaultKernel, false);
    }

    /// <summary>The notebook's default kernel: polyglot_notebook.kernelInfo, else from the kernelspec (.net-fsharp → fsharp), else csharp.</summary>
    public static string DefaultOf(Notebook notebook)
    {
        var metadata = notebook.Root["metadata"]!;
        var declared = metadata["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>();
        if (declared is not null) return Aliases.GetValueOrDefault(declared, declared);
        var spec = metadata["kernelspec"]?["name"]?.GetValue<string>();
        return spec switch { ".net-fsharp" => "fsharp", ".net-powershell" => "pwsh", _ => "csharp" };
    }
}
