using Onnx;

namespace EfficientAttention.Pretrained;

/// <summary>The shape of a BERT encoder, read from its ONNX graph.</summary>
public sealed record BertShape(int Layers, int Heads, int ModelDim, int MlpDim, int Vocabulary, int MaxPositions, int TokenTypes, double LayerNormEpsilon)
{
    public int HeadDim => ModelDim / Heads;
    public override string ToString() => $"{Layers} layers × {Heads} heads, D = {ModelDim}, MLP = {MlpDim}, vocabulary {Vocabulary}, ≤ {MaxPositions} positions";
}

/// <summary>
/// A BERT encoder's weights as float arrays named as Hugging Face names them (<c>encoder.layer.0.attention.self.query.weight</c>,
/// shape [out, in] as <c>nn.Linear</c> stores it), read from an ONNX export. The export names biases and LayerNorm
/// parameters, but its weight matrices are anonymous initializers feeding <c>MatMul</c> nodes: each is named here by
/// following the graph from the MatMul to the named bias its result is added to (x·W + b, W of shape [in, out]).
/// </summary>
public sealed class BertWeights
{
    private readonly Dictionary<string, (float[] Values, long[] Shape)> tensors;

    private BertWeights(Dictionary<string, (float[], long[])> tensors, BertShape shape) => (this.tensors, Shape) = (tensors, shape);

    public BertShape Shape { get; }

    /// <summary>Every name read, sorted.</summary>
    public IReadOnlyList<string> Names => tensors.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The values (row-major) and shape of <paramref name="name"/>.</summary>
    public (float[] Values, long[] Shape) this[string name] => tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"name = {name}: no such weight; the encoder has {tensors.Count} (e.g. {string.Join(", ", Names.Take(4))}).");

    /// <summary>Reads a BERT encoder from an ONNX model (bytes of a ModelProto); throws naming what it cannot map.</summary>
    public static BertWeights FromOnnx(byte[] onnx)
    {
        var graph = ModelProto.Parser.ParseFrom(onnx).Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var producer = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var found = new Dictionary<string, (float[], long[])>();
        foreach (var (name, t) in initializers.Where(p => p.Key.StartsWith("embeddings.", StringComparison.Ordinal) || p.Key.StartsWith("encoder.", StringComparison.Ordinal)))
            if (t.DataType == (int)TensorProto.Types.DataType.Float) found[name] = (Floats(t), t.Dims.ToArray());
        // x·W + b: an Add of a named bias and a MatMul's output whose second input is an anonymous initializer W [in, out].
        foreach (var add in graph.Node.Where(n => n.OpType == "Add" && n.Input.Count == 2))
        {
            var bias = add.Input.FirstOrDefault(i => i.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(i));
            var other = add.Input.FirstOrDefault(i => i != bias);
            if (bias is null || other is null || !producer.TryGetValue(other, out var matmul) || matmul.OpType != "MatMul") continue;
            if (!initializers.TryGetValue(matmul.Input[1], out var w) || w.Dims.Count != 2) continue;
            found[bias[..^".bias".Length] + ".weight"] = (Transpose(Floats(w), (int)w.Dims[0], (int)w.Dims[1]), new[] { w.Dims[1], w.Dims[0] });
        }
        var shape = ReadShape(graph, found, initializers, producer);
        string[] perLayer = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"];
        var missing = Enumerable.Range(0, shape.Layers)
            .SelectMany(l => perLayer.SelectMany(p => new[] { $"encoder.layer.{l}.{p}.weight", $"encoder.layer.{l}.{p}.bias" })
                .Concat(new[] { "attention.output.LayerNorm", "output.LayerNorm" }.SelectMany(p => new[] { $"encoder.layer.{l}.{p}.weight", $"encoder.layer.{l}.{p}.bias" })))
            .Concat(["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"])
            .Where(n => !found.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"cannot map this ONNX graph to a BERT encoder: {missing.Count} weights not found ({string.Join(", ", missing.Take(6))}…); expected a Hugging Face BERT export (opset ≥ 11).");
        return new BertWeights(found, shape);
    }

    private static BertShape ReadShape(GraphProto graph, Dictionary<string, (float[] Values, long[] Shape)> found,
        Dictionary<string, TensorProto> initializers, Dictionary<string, NodeProto> producer)
    {
        int layers = 0;
        while (found.ContainsKey($"encoder.layer.{layers}.attention.self.query.bias")) layers++;
        if (layers == 0 || !found.TryGetValue("embeddings.word_embeddings.weight", out var words) || !found.TryGetValue("encoder.layer.0.intermediate.dense.bias", out var mlp)
            || !found.TryGetValue("embeddings.position_embeddings.weight", out var positions) || !found.TryGetValue("embeddings.token_type_embeddings.weight", out var types))
            throw new InvalidDataException("cannot map this ONNX graph to a BERT encoder: no encoder.layer.0.* or embeddings.* initializers; expected a Hugging Face BERT export.");
        // Heads: the query is reshaped to (B, L, H, d) by a Reshape whose shape is a Concat of (B, L) with two constants.
        var query = graph.Node.First(n => n.OpType == "Add" && n.Input.Contains("encoder.layer.0.attention.self.query.bias")).Output[0];
        var reshape = graph.Node.FirstOrDefault(n => n.OpType == "Reshape" && n.Input[0] == query);
        var headDims = reshape is not null && producer.TryGetValue(reshape.Input[1], out var concat) && concat.OpType == "Concat"
            ? concat.Input.Where(initializers.ContainsKey).Select(i => Int64s(initializers[i])).Where(v => v.Length == 1).Select(v => v[0]).ToArray() : [];
        if (headDims.Length != 2)
            throw new InvalidDataException("cannot map this ONNX graph to a BERT encoder: the query's reshape to (batch, length, heads, head dim) was not found.");
        // ε of LayerNorm, decomposed as (x − μ) / sqrt(mean((x − μ)²) + ε) · γ + β: the constant added before the Sqrt.
        var scaleNode = graph.Node.First(n => n.OpType == "Mul" && n.Input.Contains("embeddings.LayerNorm.weight"));
        double epsilon = double.NaN;
        if (producer.TryGetValue(scaleNode.Input[0], out var div) && producer.TryGetValue(div.Input[1], out var sqrt) && sqrt.OpType == "Sqrt"
            && producer.TryGetValue(sqrt.Input[0], out var addEps))
            foreach (var input in addEps.Input)
                if (producer.TryGetValue(input, out var c) && c.OpType == "Constant") epsilon = Floats(c.Attribute.Single(a => a.Name == "value").T)[0];
        if (double.IsNaN(epsilon))
            throw new InvalidDataException("cannot map this ONNX graph to a BERT encoder: LayerNorm's ε (the constant added before its Sqrt) was not found.");
        return new BertShape(layers, (int)headDims[0], (int)words.Shape[1], (int)mlp.Shape[0], (int)words.Shape[0], (int)positions.Shape[0], (int)types.Shape[0], epsilon);
    }

    private static float[] Floats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"initializer {t.Name} has ONNX data type {t.DataType}; expected float (1).");
        if (t.FloatData.Count > 0) return t.FloatData.ToArray();
        var bytes = t.RawData.Span;
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToSingle(bytes.Slice(4 * i, 4));   // ONNX raw data is little-endian
        return values;
    }

    private static long[] Int64s(TensorProto t)
    {
        if (t.Int64Data.Count > 0) return t.Int64Data.ToArray();
        var bytes = t.RawData.ToByteArray();
        return Enumerable.Range(0, bytes.Length / 8).Select(i => BitConverter.ToInt64(bytes, 8 * i)).ToArray();
    }

    private static float[] Transpose(float[] a, int rows, int columns)
    {
        var t = new float[a.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) t[c * rows + r] = a[r * columns + c];
        return t;
    }
}
