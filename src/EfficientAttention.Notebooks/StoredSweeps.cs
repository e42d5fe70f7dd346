using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientAttention;
using static TorchSharp.torch;

namespace EfficientAttention.Notebooks;

/// <summary>
/// One (model, seed)'s trained Sparsefinder projections as stored in a record: per layer W_Q and W_K flattened
/// (heads × head dim × rank, row-major, float32 as trained) and the training's loss curve. <see cref="ToProjections"/>
/// rebuilds the modules, so predictors can be refitted and scored without training again. <c>KeyWeights</c> is null when
/// queries and keys share one projection.
/// </summary>
public sealed record StoredProjections(string Model, int Seed, int Heads, int HeadDim, int Rank, float[][] QueryWeights, float[][]? KeyWeights, double[] Losses)
{
    /// <summary>What <paramref name="trained"/> holds, for model <paramref name="model"/> and projection seed <paramref name="seed"/>.</summary>
    public static StoredProjections Of(string model, int seed, ProjectionTrainingResult trained)
    {
        ArgumentNullException.ThrowIfNull(trained);
        if (trained.Projections.Count == 0) throw new ArgumentException("trained holds no projection (expected one per layer).", nameof(trained));
        var first = trained.Projections[0];
        var odd = trained.Projections.Select((p, layer) => (p, layer)).FirstOrDefault(x => (x.p.Heads, x.p.HeadDim, x.p.Rank, x.p.Shared) != (first.Heads, first.HeadDim, first.Rank, first.Shared));
        if (odd.p is not null)
            throw new ArgumentException($"trained: layer {odd.layer} has heads {odd.p.Heads}, head dim {odd.p.HeadDim}, rank {odd.p.Rank}, shared {odd.p.Shared}; expected every layer like layer 0 ({first.Heads}, {first.HeadDim}, {first.Rank}, shared {first.Shared}).", nameof(trained));
        float[] Flat(SparsefinderProjection p, string name) => p.named_parameters().First(x => x.name == name).parameter.detach().to(ScalarType.Float32).data<float>().ToArray();
        return new StoredProjections(model, seed, first.Heads, first.HeadDim, first.Rank,
            trained.Projections.Select(p => Flat(p, "queryWeight")).ToArray(),
            first.Shared ? null : trained.Projections.Select(p => Flat(p, "keyWeight")).ToArray(),
            trained.Losses.ToArray());
    }

    /// <summary>One projection module per layer with the stored weights (float32, CPU, eval mode).</summary>
    public IReadOnlyList<SparsefinderProjection> ToProjections()
    {
        long size = (long)Heads * HeadDim * Rank;
        var bad = QueryWeights.Concat(KeyWeights ?? []).FirstOrDefault(w => w.Length != size);
        if (bad is not null) throw new InvalidDataException($"{Model} seed {Seed}: a stored weight has {bad.Length} values; expected heads × head dim × rank = {size}.");
        return QueryWeights.Select((q, layer) =>
        {
            var projection = new SparsefinderProjection(Heads, HeadDim, Rank, shared: KeyWeights is null);
            using (no_grad())
                foreach (var (name, parameter) in projection.named_parameters())
                    parameter.copy_(tensor(name == "queryWeight" ? q : KeyWeights![layer]).view(Heads, HeadDim, Rank));
            projection.eval();
            return projection;
        }).ToList();
    }

    /// <summary>The stored weights as a training result (the loss curve included).</summary>
    public ProjectionTrainingResult ToResult() => new(ToProjections(), Losses);
}

/// <summary>One predictor setting scored on held-out data: all heads pooled (<see cref="Total"/>) and, where kept, per layer and head.</summary>
public sealed record ScoredSetting(string Model, int Seed, string Family, string Setting, GraphCounts Total, GraphCounts[][]? PerHead = null);

/// <summary>A probe of the projections' settings: recall at the target sparsity, one value per projection seed.</summary>
public sealed record ProbeResult(string Kind, double Setting, string Name, double[] Recall)
{
    public Sample ToSample() => Sample.Of(Name, Recall);
}

/// <summary>One routed evaluation: the model with every head's entmax over one predictor's graph, its realised sparsity and quality.</summary>
public sealed record RoutedEvaluation(string Model, int Seed, string Family, string Setting, double Sparsity, double Quality);

/// <summary>
/// A family's quality at the target sparsity: interpolated between the two routed evaluations around it
/// (<see cref="Matched"/>), or the nearest one when the sweep does not bracket it.
/// </summary>
public sealed record RoutedAtTarget(string Model, int Seed, string Family, string Setting, double Sparsity, double Quality, bool Matched);

/// <summary>
/// JSON for the stored sweeps: records indented as every record is, but each <see cref="GraphCounts"/> and each number
/// array on one line (<c>[valid, predicted, gold, hits, queries, exact queries, gold mass, hit mass]</c>), so a record of
/// a few hundred settings stays a few hundred kilobytes. Numbers round-trip exactly.
/// </summary>
public static class StoredSweeps
{
    public static JsonSerializerOptions Json { get; } = new(Checkpoints.Json) { Converters = { new GraphCountsConverter(), new OneLineArray<double>(), new OneLineArray<float>() } };

    private static string Number(double x) => double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : $"\"{x.ToString(CultureInfo.InvariantCulture)}\"";

    private static double ReadNumber(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String ? double.Parse(reader.GetString()!, CultureInfo.InvariantCulture) : reader.GetDouble();

    private sealed class GraphCountsConverter : JsonConverter<GraphCounts>
    {
        public override GraphCounts Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"graph counts: expected an array of 8 numbers, found {reader.TokenType}.");
            var x = new List<double>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) x.Add(ReadNumber(ref reader));
            if (x.Count != 8) throw new JsonException($"graph counts: expected 8 numbers, found {x.Count}.");
            return new GraphCounts((long)x[0], (long)x[1], (long)x[2], (long)x[3], (long)x[4], (long)x[5], x[6], x[7]);
        }

        public override void Write(Utf8JsonWriter writer, GraphCounts c, JsonSerializerOptions options) =>
            writer.WriteRawValue($"[{c.Valid},{c.Predicted},{c.Gold},{c.Hits},{c.Queries},{c.ExactQueries},{Number(c.GoldMass)},{Number(c.HitMass)}]");
    }

    private sealed class OneLineArray<T> : JsonConverter<T[]> where T : struct, IConvertible
    {
        public override T[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"expected an array of numbers, found {reader.TokenType}.");
            var x = new List<T>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) x.Add((T)Convert.ChangeType(ReadNumber(ref reader), typeof(T), CultureInfo.InvariantCulture));
            return x.ToArray();
        }

        public override void Write(Utf8JsonWriter writer, T[] values, JsonSerializerOptions options) =>
            writer.WriteRawValue("[" + string.Join(",", values.Select(v => v is float f ? (double.IsFinite(f) ? f.ToString("R", CultureInfo.InvariantCulture) : Number(f)) : Number(v.ToDouble(CultureInfo.InvariantCulture)))) + "]");
    }
}

/// <summary>The routed evaluations of a downstream sweep, each family's quality at the target sparsity, and the dense models' quality on the same sequences.</summary>
public sealed record RoutedSweep(IReadOnlyList<RoutedEvaluation> Evaluated, IReadOnlyList<RoutedAtTarget> AtTarget, IReadOnlyDictionary<string, double> Dense);
