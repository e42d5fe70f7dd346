using System.Text.Json;
using EfficientAttention;

namespace EfficientAttention.Notebooks;

/// <summary>The notebooks' results files: <c>results/&lt;name&gt;.json</c> beside the notebook, written atomically.</summary>
public static class Results
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,   // NaN: not measured
    };

    /// <summary>Serialises <paramref name="results"/> (indented JSON; NaN as "NaN") to <c>results/&lt;name&gt;.json</c>; returns the path.</summary>
    public static string Save(string name, object results)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"name = '{name}'; expected a plain file name without extension, e.g. \"combiner\".", nameof(name));
        var path = Path.Combine("results", name + ".json");
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, results, results.GetType(), Json));
        return path;
    }

    /// <summary>Reads what <see cref="Save"/> wrote, as a JSON document.</summary>
    public static JsonDocument Load(string name)
    {
        var path = Path.Combine("results", name + ".json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{Path.GetFullPath(path)} does not exist; run the notebook that writes results/{name}.json first.", path);
        return JsonDocument.Parse(File.ReadAllText(path));
    }
}
