using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>A generated sequence task: its dataset, vocabulary and what the classes or positions mean.</summary>
public sealed record SequenceTask(string Name, TensorDataset Data, int VocabularySize, int Length, int Classes, IReadOnlyList<string> Vocabulary);

/// <summary>
/// ListOps (Nangia &amp; Bowman, 2018), as in Long Range Arena (Tay et al., 2021). Grammar:
/// <code>
///   expr  ::= digit | "[" op expr expr+ "]"        op ::= MAX | MIN | MED | SM        digit ::= 0 … 9
/// </code>
/// MAX / MIN of the arguments, MED the median (of an even count: the mean of the two middle values, truncated, as
/// LRA's <c>int(np.median(x))</c>), SM the sum modulo 10. The label is the value (10 classes).
/// Generation from a seed, as LRA's generator: the root is an operator; below it, at depth d &lt; maxDepth, an expression
/// is an operator with 2…maxArgs arguments with probability 0.25 (LRA's VALUE_P), else a digit; trees outside
/// [minLength, maxLength] are redrawn (LRA: 500–2 000 tokens, maxDepth 10, maxArgs 10).
/// Tokens: 0 PAD, 1–10 digits, 11–14 "[MAX" "[MIN" "[MED" "[SM", 15 "]". Inputs are padded with PAD to the length.
/// </summary>
public static class ListOps
{
    public static IReadOnlyList<string> Vocabulary { get; } = ["<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "[MAX", "[MIN", "[MED", "[SM", "]"];
    private static readonly string[] Operators = ["[MAX", "[MIN", "[MED", "[SM"];
    private static readonly Dictionary<string, long> TokenId = Vocabulary.Select((t, i) => (t, (long)i)).ToDictionary(p => p.t, p => p.Item2);

    /// <summary><paramref name="count"/> expressions of at most <paramref name="maxLength"/> tokens (and at least <paramref name="minLength"/>).</summary>
    public static SequenceTask Generate(int count, int maxLength, long seed, int maxDepth = 10, int maxArgs = 10, int minLength = 1)
    {
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "expected ≥ 1");
        if (minLength > maxLength) throw new ArgumentOutOfRangeException(nameof(minLength), minLength, $"minLength = {minLength}; expected ≤ maxLength = {maxLength}.");
        var rng = new Random(unchecked((int)seed));
        var inputs = new long[count * maxLength];
        var labels = new long[count];
        for (int n = 0; n < count; n++)
        {
            List<string> tokens;
            int value;
            do { tokens = []; value = Expression(rng, 0, maxDepth, maxArgs, tokens, maxLength); }
            while (tokens.Count > maxLength || tokens.Count < minLength);
            for (int i = 0; i < tokens.Count; i++) inputs[n * maxLength + i] = TokenId[tokens[i]];
            labels[n] = value;
        }
        TorchRuntime.EnsureLoaded();
        return new SequenceTask("listops", new TensorDataset(tensor(inputs, new long[] { count, maxLength }), tensor(labels)), Vocabulary.Count, maxLength, 10, Vocabulary);
    }

    /// <summary>The probability that an expression below the root is an operator (LRA's VALUE_P).</summary>
    public const double OperatorProbability = 0.25;

    private static int Expression(Random rng, int depth, int maxDepth, int maxArgs, List<string> tokens, int budget)
    {
        if (tokens.Count > budget || (depth > 0 && (depth >= maxDepth || rng.NextDouble() >= OperatorProbability)))   // past the budget the tree is redrawn anyway
        {
            int digit = rng.Next(10);
            tokens.Add(digit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return digit;
        }
        var op = Operators[rng.Next(Operators.Length)];
        tokens.Add(op);
        var args = new List<int>();
        for (int i = rng.Next(2, maxArgs + 1); i > 0; i--) args.Add(Expression(rng, depth + 1, maxDepth, maxArgs, tokens, budget));
        tokens.Add("]");
        return Apply(op, args);
    }

    /// <summary>The value of one operator on its arguments.</summary>
    public static int Apply(string op, IReadOnlyList<int> args) => op switch
    {
        "[MAX" => args.Max(),
        "[MIN" => args.Min(),
        "[MED" => Median(args),
        "[SM" => args.Sum() % 10,
        _ => throw new ArgumentException($"op = {op}; expected one of {string.Join(", ", Operators)}.", nameof(op)),
    };

    private static int Median(IReadOnlyList<int> args)
    {
        var s = args.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>
/// Sequence-to-sequence probes for a causal language model, written as one sequence with the loss only on the answer.
/// Tokens: 0 PAD, 1 SEP (":"), 2 QUERY ("?"), then the symbols. Targets are <see cref="IDataset.IgnoreIndex"/> except at
/// positions whose next token is part of the answer.
/// </summary>
public static class SequenceProbes
{
    private const int Sep = 1, Query = 2, FirstSymbol = 3;

    private static IReadOnlyList<string> Names(int symbols) => ["<pad>", ":", "?", .. Enumerable.Range(0, symbols).Select(i => $"s{i}")];

    /// <summary>
    /// Copy (or reverse): <c>x₁ … xₙ : x₁ … xₙ</c> (or <c>xₙ … x₁</c>) with xᵢ uniform over <paramref name="symbols"/>.
    /// The model reads the sequence without its last token and must predict the n answer tokens; length 2n.
    /// </summary>
    public static SequenceTask Copy(int count, int n, int symbols, long seed, bool reverse = false)
    {
        var rng = new Random(unchecked((int)seed));
        int length = 2 * n;
        var inputs = new long[count * length];
        var targets = Enumerable.Repeat(IDataset.IgnoreIndex, count * length).ToArray();
        for (int e = 0; e < count; e++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (long)(FirstSymbol + rng.Next(symbols))).ToArray();
            var answer = reverse ? x.Reverse().ToArray() : x;
            long[] full = [.. x, Sep, .. answer];                                     // 2n + 1 tokens
            for (int t = 0; t < length; t++)
            {
                inputs[e * length + t] = full[t];
                if (t >= n) targets[e * length + t] = full[t + 1];                      // from SEP on, predict the answer
            }
        }
        TorchRuntime.EnsureLoaded();
        return new SequenceTask(reverse ? "reverse" : "copy", new TensorDataset(tensor(inputs, new long[] { count, length }), tensor(targets, new long[] { count, length })),
                                FirstSymbol + symbols, length, FirstSymbol + symbols, Names(symbols));
    }

    /// <summary>
    /// Associative recall: <c>k₁ v₁ k₂ v₂ … kₙ vₙ ? k</c> → v, where the keys are n distinct symbols from the first
    /// <paramref name="keys"/>, the values uniform over the next <paramref name="values"/>, and k one of the keys.
    /// Loss only at the last position; length 2n + 2.
    /// </summary>
    public static SequenceTask AssociativeRecall(int count, int n, int keys, int values, long seed)
    {
        if (n > keys) throw new ArgumentOutOfRangeException(nameof(n), n, $"n = {n} pairs need ≤ keys = {keys} distinct keys.");
        var rng = new Random(unchecked((int)seed));
        int length = 2 * n + 2;
        var inputs = new long[count * length];
        var targets = Enumerable.Repeat(IDataset.IgnoreIndex, count * length).ToArray();
        for (int e = 0; e < count; e++)
        {
            var k = Enumerable.Range(0, keys).OrderBy(_ => rng.Next()).Take(n).Select(i => (long)(FirstSymbol + i)).ToArray();
            var v = Enumerable.Range(0, n).Select(_ => (long)(FirstSymbol + keys + rng.Next(values))).ToArray();
            int asked = rng.Next(n);
            for (int i = 0; i < n; i++) { inputs[e * length + 2 * i] = k[i]; inputs[e * length + 2 * i + 1] = v[i]; }
            inputs[e * length + 2 * n] = Query;
            inputs[e * length + 2 * n + 1] = k[asked];
            targets[e * length + 2 * n + 1] = v[asked];
        }
        TorchRuntime.EnsureLoaded();
        int vocabulary = FirstSymbol + keys + values;
        return new SequenceTask("associative-recall", new TensorDataset(tensor(inputs, new long[] { count, length }), tensor(targets, new long[] { count, length })),
                                vocabulary, length, vocabulary, Names(keys + values));
    }
}
