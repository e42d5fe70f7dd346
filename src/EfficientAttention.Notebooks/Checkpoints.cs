using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientAttention;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention.Notebooks;

/// <summary>
/// What one training run records, as <c>notebooks/checkpoints/&lt;Name&gt;.json</c>: enough to know what the model is,
/// how well it does on held-out data, and how to make it again. Runs whose weights are kept also name the weights
/// file (float16 on disk) and its SHA-256; runs of a sweep keep only this record.
/// </summary>
public sealed record TrainingManifest
{
    public required string Name { get; init; }
    public required string Recipe { get; init; }
    public required string Variant { get; init; }
    public required long Seed { get; init; }
    public required string Model { get; init; }
    /// <summary>Everything that shapes the weights (architecture, data, optimiser); a notebook's recipe must match it exactly.</summary>
    public required SortedDictionary<string, string> Config { get; init; }
    public required string Dataset { get; init; }
    public required string TrainSplit { get; init; }
    public required string HeldOutSplit { get; init; }
    public required string Metric { get; init; }
    public required double Value { get; init; }
    public required long HeldOutExamples { get; init; }
    public required int Steps { get; init; }
    public required double WallSeconds { get; init; }
    public required string Commit { get; init; }
    public required string Command { get; init; }
    public required string Created { get; init; }
    /// <summary>The weights file beside the manifest, or null for a run that keeps only its numbers.</summary>
    public string? Weights { get; init; }
    public string? Sha256 { get; init; }
    public string? Dtype { get; init; }
    /// <summary>Other held-out metrics of the run, by name (e.g. accuracy beside a perplexity).</summary>
    public SortedDictionary<string, double>? Scores { get; init; }
    /// <summary>The training curve (recipes that track it): mean training loss per logging window, held-out metric where measured.</summary>
    public IReadOnlyList<CurvePoint>? Curve { get; init; }
}

/// <summary>One point of a training curve: the step, the mean training loss (nats) over the steps since the previous point, and the held-out metric when it was measured then.</summary>
public sealed record CurvePoint(int Step, double TrainLoss, double? HeldOut = null);

/// <summary>Reads and writes training manifests and float16 weights under <c>notebooks/checkpoints/</c>.</summary>
public static class Checkpoints
{
    public const string RelativeDirectory = "notebooks/checkpoints";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,       // "×", "α" as themselves
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// The checkpoint folder: <c>EA_CHECKPOINTS</c> if set, else <c>notebooks/checkpoints</c> found upwards from the
    /// working directory (so notebooks, tests and the retrain tool share it).
    /// </summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("EA_CHECKPOINTS") is { Length: > 0 } overridden ? overridden
        : DataPaths.FindUp(RelativeDirectory)
          ?? throw new DirectoryNotFoundException($"{RelativeDirectory} was not found above {System.IO.Directory.GetCurrentDirectory()}; run from the repository or set EA_CHECKPOINTS.");

    public static string ManifestPath(string name, string? directory = null) => Path.Combine(directory ?? DefaultDirectory, name + ".json");

    /// <summary>True when a manifest named <paramref name="name"/> exists.</summary>
    public static bool Exists(string name, string? directory = null) => File.Exists(ManifestPath(name, directory));

    /// <summary>Every manifest in the folder, by name.</summary>
    public static IReadOnlyList<TrainingManifest> All(string? directory = null) =>
        System.IO.Directory.GetFiles(directory ?? DefaultDirectory, "*.json").Order().Select(p => ReadManifest(Path.GetFileNameWithoutExtension(p), directory)).ToList();

    public static TrainingManifest ReadManifest(string name, string? directory = null)
    {
        var path = ManifestPath(name, directory);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No training record {path}. Train it with: dotnet run -c Release --project src/Retrain -- {name}", path);
        return JsonSerializer.Deserialize<TrainingManifest>(File.ReadAllText(path), Json)
               ?? throw new InvalidDataException($"{path} is empty; expected a training manifest.");
    }

    /// <summary>Writes the manifest (and, when <paramref name="model"/> is given, its float16 weights first), atomically.</summary>
    public static TrainingManifest Write(TrainingManifest manifest, nn.Module? model = null, string? directory = null)
    {
        directory ??= DefaultDirectory;
        System.IO.Directory.CreateDirectory(directory);
        if (model is not null)
        {
            var file = manifest.Name + ".bin";
            var path = Path.Combine(directory, file);
            AtomicFile.Write(path, stream => WriteHalf(model, stream));
            manifest = manifest with { Weights = file, Sha256 = Sha256Of(path), Dtype = "float16" };
        }
        AtomicFile.Write(ManifestPath(manifest.Name, directory), stream => JsonSerializer.Serialize(stream, manifest, Json));
        return manifest;
    }

    /// <summary>
    /// Loads the weights recorded by <paramref name="manifest"/> into <paramref name="model"/> (float32 afterwards),
    /// after checking the file's SHA-256.
    /// </summary>
    public static void LoadWeights(TrainingManifest manifest, nn.Module model, string? directory = null)
    {
        if (manifest.Weights is null)
            throw new InvalidOperationException($"{manifest.Name} keeps no weights (a sweep run records only its metrics).");
        var path = Path.Combine(directory ?? DefaultDirectory, manifest.Weights);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{manifest.Name}: weights file {path} is missing. Retrain: {manifest.Command}", path);
        var actual = Sha256Of(path);
        if (!string.Equals(actual, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path} has SHA-256 {actual}, but its manifest records {manifest.Sha256}: the file was changed or truncated. Restore it (git checkout) or retrain: {manifest.Command}");
        InHalf(model, () => model.load(path));
    }

    /// <summary>Rounds a model's weights to float16 in place (what a checkpoint stores), so the metrics measured next are the checkpoint's.</summary>
    public static void RoundToHalf(nn.Module model) => InHalf(model, () => { });

    private static void WriteHalf(nn.Module model, Stream stream) => InHalf(model, () =>
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        model.save(writer);
    });

    /// <summary>Runs <paramref name="action"/> with the model in float16, then restores its dtype.</summary>
    private static void InHalf(nn.Module model, Action action)
    {
        var dtype = model.parameters().First().dtype;
        model.to(ScalarType.Float16);
        try { action(); }
        finally { model.to(dtype); }
    }

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
