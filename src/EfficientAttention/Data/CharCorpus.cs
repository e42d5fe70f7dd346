using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// A character-level text corpus for language modelling. The default is the text of Herman Melville's
/// <i>Moby-Dick; or, The Whale</i> (1851; public domain), shipped as <c>datasets/moby-dick/moby-dick.txt</c> (1.2 MB, see
/// datasets/README.md for its origin). Characters are numbered in sorted order over the whole text, so every split
/// shares one vocabulary; the splits are the first 90%, the next 5% and the last 5% of the characters.
/// </summary>
public sealed class CharCorpus
{
    public const string DefaultRelativePath = "datasets/moby-dick/moby-dick.txt";

    private CharCorpus(string text, string source)
    {
        Source = source;
        Vocabulary = text.Distinct().Order().ToArray();
        var index = Vocabulary.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        TorchRuntime.EnsureLoaded();
        var ids = tensor(text.Select(c => index[c]).ToArray());
        long n = ids.shape[0], trainEnd = n * 90 / 100, validEnd = n * 95 / 100;
        Train = ids.slice(0, 0, trainEnd, 1);
        Valid = ids.slice(0, trainEnd, validEnd, 1);
        Test = ids.slice(0, validEnd, n, 1);
    }

    public string Source { get; }
    public IReadOnlyList<char> Vocabulary { get; }
    public int VocabularySize => Vocabulary.Count;
    public Tensor Train { get; }
    public Tensor Valid { get; }
    public Tensor Test { get; }

    /// <summary>Loads a UTF-8 text file: <paramref name="path"/>, else the shipped Moby-Dick found upwards from the working directory.</summary>
    public static CharCorpus Load(string? path = null)
    {
        path ??= DataPaths.FindUp(DefaultRelativePath)
            ?? throw new FileNotFoundException($"The text corpus {DefaultRelativePath} was not found above {Directory.GetCurrentDirectory()} or the library's folder; pass a path to a UTF-8 text file.", DefaultRelativePath);
        if (!File.Exists(path)) throw new FileNotFoundException($"Text corpus {path} does not exist.", path);
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        if (text.Length < 2) throw new InvalidDataException($"{path} has {text.Length} characters; expected a text to model.");
        return new CharCorpus(text, path);
    }

    public string Decode(Tensor ids) => new(ids.data<long>().Select(i => Vocabulary[(int)i]).ToArray());

    /// <summary>
    /// Windows of <paramref name="length"/> characters from <paramref name="split"/> every <paramref name="stride"/>
    /// (default: non-overlapping): inputs x[s … s+L), targets x[s+1 … s+L]: next-character prediction.
    /// </summary>
    public static TensorDataset Windows(Tensor split, int length, int? stride = null)
    {
        int step = stride ?? length;
        if (length < 1 || step < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length and stride must be ≥ 1.");
        long count = (split.shape[0] - 1 - length) / step + 1;
        if (count < 1) throw new ArgumentException($"split has {split.shape[0]} characters; a window of {length} needs ≥ {length + 1}.", nameof(split));
        using var scope = NewDisposeScope();
        var starts = arange(Scalars.Zero, Scalars.Of(count * step), Scalars.Of(step), dtype: ScalarType.Int64).unsqueeze(1).add(Scalars.Arange(length, CPU), Scalars.One); // (N, L)
        var inputs = split.index_select(0, starts.flatten()).view(count, length);
        var targets = split.index_select(0, starts.add(Scalars.One, Scalars.One).flatten()).view(count, length);
        return new TensorDataset(inputs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Masked-language-model windows (BERT's recipe, masks fixed by <paramref name="seed"/>): windows of
    /// <paramref name="length"/> characters every <paramref name="stride"/>; each position is chosen with probability
    /// <paramref name="rate"/>; a chosen position becomes the mask token (id <paramref name="vocabularySize"/>) with
    /// probability 0.8, a uniformly random symbol with 0.1, and stays itself with 0.1. Targets hold the original
    /// symbol at the chosen positions and <see cref="IDataset.IgnoreIndex"/> elsewhere. A model for these windows has
    /// <paramref name="vocabularySize"/> + 1 ids.
    /// </summary>
    public static TensorDataset MaskedWindows(Tensor split, int length, int vocabularySize, double rate = 0.15, long seed = 0, int? stride = null)
    {
        if (!(rate > 0 && rate < 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, $"rate = {rate}; expected 0 < rate < 1.");
        if (vocabularySize < 2) throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, $"vocabularySize = {vocabularySize}; expected ≥ 2.");
        var windows = Windows(split, length, stride);
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var text = windows.Inputs;                                                    // (N, L): the characters themselves
        var chosen = rand(text.shape, generator: generator).lt(Scalars.Of(rate));
        var action = rand(text.shape, generator: generator);                          // < 0.8 mask, < 0.9 random, else keep
        var random = randint(0, vocabularySize, text.shape, generator: generator, dtype: ScalarType.Int64);
        var inputs = text.where(chosen.logical_not(), full_like(text, Scalars.Of(vocabularySize)));
        inputs = inputs.where(chosen.logical_not().logical_or(action.lt(Scalars.Of(0.8))), random.where(action.lt(Scalars.Of(0.9)), text));
        var targets = text.where(chosen, full_like(text, Scalars.Of(IDataset.IgnoreIndex)));
        return new TensorDataset(inputs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }
}
