using System.Diagnostics;
using System.Text.Json;
using EfficientAttention;

namespace EfficientAttention.Notebooks;

/// <summary>
/// A stored analysis result (<c>notebooks/checkpoints/records/&lt;Name&gt;.json</c>): what was computed, from what
/// (<see cref="Config"/>), by which code (<see cref="Commit"/>) and command, when and in how long, and the value.
/// </summary>
public sealed record AnalysisRecord<T>
{
    public required string Name { get; init; }
    public required SortedDictionary<string, string> Config { get; init; }
    public required string Command { get; init; }
    public required string Commit { get; init; }
    public required string Created { get; init; }
    public required double WallSeconds { get; init; }
    public required T Value { get; init; }

    public override string ToString() => $"{Name}: computed {Created} by commit {Commit[..Math.Min(7, Commit.Length)]} in {WallSeconds:F0} s; to recompute: {Command}";
}

/// <summary>
/// Analyses too slow for every notebook run, stored with their provenance beside the checkpoints and loaded by default —
/// as trained models are. A stored record is used only when its config equals the caller's exactly.
/// </summary>
public static class Records
{
    public static string DirectoryPath(string? checkpoints = null) => Path.Combine(checkpoints ?? Checkpoints.DefaultDirectory, "records");

    public static string PathOf(string name, string? checkpoints = null) => Path.Combine(DirectoryPath(checkpoints), name + ".json");

    /// <summary>
    /// The stored record <paramref name="name"/> when it exists with this <paramref name="config"/> and
    /// <paramref name="recompute"/> is false; otherwise runs <paramref name="compute"/>, stores its record (atomically)
    /// and returns it.
    /// </summary>
    public static AnalysisRecord<T> LoadOrCompute<T>(string name, SortedDictionary<string, string> config, string command, Func<T> compute,
                                                    bool recompute = false, string? checkpoints = null, JsonSerializerOptions? json = null)
    {
        if (!recompute && TryLoad<T>(name, config, checkpoints, json) is { } stored) return stored;
        var path = PathOf(name, checkpoints);
        var clock = Stopwatch.StartNew();
        var value = compute();
        var record = new AnalysisRecord<T>
        {
            Name = name, Config = config, Command = command, Commit = Recipe.BuildCommit,
            Created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1), Value = value,
        };
        Directory.CreateDirectory(DirectoryPath(checkpoints));
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, record, json ?? Checkpoints.Json));
        return record;
    }

    /// <summary>The stored record <paramref name="name"/> when it exists with this <paramref name="config"/>; null otherwise (nothing is computed).</summary>
    /// <remarks><paramref name="json"/>: the serializer options the record was written with (the checkpoints' by default).</remarks>
    public static AnalysisRecord<T>? TryLoad<T>(string name, SortedDictionary<string, string> config, string? checkpoints = null, JsonSerializerOptions? json = null)
    {
        var path = PathOf(name, checkpoints);
        if (!File.Exists(path)) return null;
        var stored = JsonSerializer.Deserialize<AnalysisRecord<T>>(File.ReadAllText(path), json ?? Checkpoints.Json)
            ?? throw new InvalidDataException($"{path} holds no record.");
        return stored.Config.SequenceEqual(config) ? stored : null;
    }
}
