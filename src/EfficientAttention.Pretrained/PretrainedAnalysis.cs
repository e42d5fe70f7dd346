using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention.Pretrained;

/// <summary>Reuse Transformers' analysis (Bhojanapalli et al., 2021, §3) on a pretrained encoder, and what reuse at inference changes.</summary>
public static partial class PretrainedAnalysis
{
    /// <summary>
    /// Head × head similarity of every layer pair on <paramref name="sentences"/>: [ℓ][ℓ′][h][h′] = mean over sentences'
    /// real query tokens of 1 − TV(P_ℓ,h[i, ·], P_ℓ′,h′[i, ·]) (<see cref="ReuseAnalysis.HeadSimilarity"/>; padding
    /// queries are left out, padding keys have probability 0). Sentences are batched by length.
    /// </summary>
    public static double[][][][] HeadSimilarity(MiniLM model, IReadOnlyList<string> sentences, int batchSize = 32, MapEdit? edit = null, BertEncoder? encoder = null)
    {
        var shape = (encoder ?? model.Encoder).Shape;
        var sum = new double[shape.Layers, shape.Layers, shape.Heads, shape.Heads];
        double weight = 0;
        foreach (var chunk in ByLength(model, sentences, batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = model.Tokenize(chunk);
            using var _ = no_grad();
            var maps = (encoder ?? model.Encoder).Forward(batch.Ids, batch.RealTokens, withProbabilities: true, edit: edit).Probabilities!;
            var queries = batch.RealTokens.to(maps.dtype).view(1, batch.Ids.shape[0], 1, batch.Ids.shape[1], 1);
            var live = maps.mul(queries).unbind(0);                                     // padding query rows → 0: skipped
            double tokens = batch.Lengths.Sum();
            for (int a = 0; a < shape.Layers; a++)
                for (int b = 0; b < shape.Layers; b++)
                {
                    var s = ReuseAnalysis.HeadSimilarity(live[a], live[b]).to(ScalarType.Float64).data<double>().ToArray();
                    for (int i = 0; i < s.Length; i++) sum[a, b, i / shape.Heads, i % shape.Heads] += tokens * s[i];
                }
            weight += tokens;
        }
        return Enumerable.Range(0, shape.Layers).Select(a => Enumerable.Range(0, shape.Layers).Select(b =>
            Enumerable.Range(0, shape.Heads).Select(h => Enumerable.Range(0, shape.Heads).Select(g => sum[a, b, h, g] / weight).ToArray()).ToArray()).ToArray()).ToArray();
    }

    /// <summary>Layer × layer similarity: for each head of ℓ its best match in ℓ′, averaged over heads (the paper's Figure 1 measure).</summary>
    public static double[][] LayerSimilarity(double[][][][] heads) =>
        heads.Select(row => row.Select(pair => pair.Average(h => h.Max())).ToArray()).ToArray();

    /// <summary>Cosine of each sentence's embedding to its reference (rows of two L2-normalised (N, D) matrices). → N values</summary>
    public static double[] Cosines(Tensor embeddings, Tensor reference) =>
        embeddings.mul(reference).sum(1).to(ScalarType.Float64).data<double>().ToArray();

    /// <summary>
    /// For each sentence, the share of its <paramref name="k"/> nearest neighbours (cosine, itself excluded) under
    /// <paramref name="reference"/> that are still among its k nearest under <paramref name="embeddings"/>. → N values in [0, 1]
    /// </summary>
    public static double[] NeighbourAgreement(Tensor embeddings, Tensor reference, int k = 10)
    {
        long n = embeddings.shape[0];
        if (k < 1 || k >= n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k = {k}; expected 1 ≤ k < {n} sentences.");
        using var scope = NewDisposeScope();
        long[] Top(Tensor e)
        {
            var s = e.matmul(e.transpose(0, 1));
            s = s.masked_fill(eye(n, dtype: ScalarType.Bool), Scalars.NegativeInfinity);    // not itself
            return s.topk(k, dim: 1).indexes.data<long>().ToArray();
        }
        long[] a = Top(reference), b = Top(embeddings);
        return Enumerable.Range(0, (int)n).Select(i => (double)a.Skip(i * k).Take(k).Intersect(b.Skip(i * k).Take(k)).Count() / k).ToArray();
    }

    /// <summary>Sentences in batches of similar token length (less padding), in a fixed order.</summary>
    private static IEnumerable<List<string>> ByLength(MiniLM model, IReadOnlyList<string> sentences, int batchSize) =>
        sentences.OrderBy(s => model.Tokenizer.CountTokens(s)).ThenBy(s => s, StringComparer.Ordinal).Chunk(batchSize).Select(c => c.ToList());

    /// <summary>
    /// Sentences of a text (split after . ! ? followed by a space and a capital or a quote), whitespace collapsed, kept
    /// when they have <paramref name="minWords"/> to <paramref name="maxWords"/> words; in text order, duplicates dropped.
    /// </summary>
    public static List<string> Sentences(string text, int minWords = 8, int maxWords = 40)
    {
        var flat = Whitespace().Replace(text, " ");
        return SentenceEnd().Split(flat).Select(s => s.Trim())
            .Where(s => s.Split(' ').Length is var w && w >= minWords && w <= maxWords && !s.Contains("CHAPTER", StringComparison.Ordinal))
            .Distinct().ToList();
    }

    /// <summary>The words of <paramref name="sentence"/> in an order drawn from <paramref name="random"/> (the shuffled-input control).</summary>
    public static string ShuffleWords(string sentence, Random random)
    {
        var words = sentence.Split(' ');
        random.Shuffle(words);
        return string.Join(' ', words);
    }

    [GeneratedRegex(@"\s+")] private static partial Regex Whitespace();
    [GeneratedRegex(@"(?<=[.!?])\s+(?=[A-Z""“‘'])")] private static partial Regex SentenceEnd();
}
