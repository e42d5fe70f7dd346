using System.Net;
using System.IO.Compression;
using EfficientAttention;

namespace EfficientAttention.Tests;

public class DataTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("ea-data").FullName;

    /// <summary>Writes a small generated Fashion-MNIST look-alike: n images of 28×28 whose pixels encode (index, row, col).</summary>
    private static string FakeFashionMnist(int n = 6)
    {
        var dir = TempDir();
        foreach (var train in new[] { true, false })
        {
            var images = new byte[n * 28 * 28];
            for (int i = 0; i < images.Length; i++) images[i] = (byte)((i / 784 * 40 + i % 784) % 256);
            Idx.Write(Path.Combine(dir, train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz"), [n, 28, 28], images);
            Idx.Write(Path.Combine(dir, train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz"), [n], Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray());
        }
        return dir;
    }

    [Fact]
    public void Idx_round_trips_and_reports_truncation_and_bad_magic()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "x.idx.gz");
        Idx.Write(path, [2, 3], [1, 2, 3, 4, 5, 6]);
        var (dims, data) = Idx.Read(path);
        Assert.Equal([2, 3], dims);
        Assert.Equal([1, 2, 3, 4, 5, 6], data);

        var plain = Path.Combine(dir, "short.idx");
        File.WriteAllBytes(plain, [0, 0, 8, 1, 0, 0, 0, 9, 1, 2, 3]);               // declares 9 bytes, has 3
        Assert.Contains("ends early in its data", Assert.Throws<InvalidDataException>(() => Idx.Read(plain)).Message);
        File.WriteAllBytes(plain, [1, 2, 8, 1, 0, 0, 0, 1, 7]);
        var bad = Assert.Throws<InvalidDataException>(() => Idx.Read(plain)).Message;
        Assert.Contains(plain, bad);
        Assert.Contains("magic", bad);
        File.WriteAllBytes(plain, [0, 0, 0x0D, 1, 0, 0, 0, 1, 7, 7, 7, 7]);         // float32 elements
        Assert.Contains("0x0D is not supported", Assert.Throws<InvalidDataException>(() => Idx.Read(plain)).Message);
        Assert.Empty(Directory.EnumerateFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Fashion_mnist_is_found_by_explicit_path_then_environment_variable()
    {
        var explicitDir = FakeFashionMnist(4);
        var envDir = FakeFashionMnist(5);
        var previous = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, envDir);
            Assert.Equal(explicitDir, FashionMnist.Locate(explicitDir));
            Assert.Equal(envDir, FashionMnist.Locate());
            var set = FashionMnist.Load(train: false);
            Assert.Equal((5, envDir), (set.Count, set.Source));
            Assert.Equal(new long[] { 5, 28, 28 }, set.Images.shape);
            Assert.Equal([0L, 1, 2, 3, 4], set.Labels.data<long>().ToArray());
            Assert.Equal(3, FashionMnist.Load(train: true, directory: explicitDir, limit: 3).Count);
        }
        finally { Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, previous); }
    }

    [Fact]
    public void Missing_fashion_mnist_says_where_it_looked_and_the_three_ways_to_get_it()
    {
        var empty = TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Locate([("explicit directory argument", empty), ("environment variable", null)]));
        Assert.Contains("environment variable: not set", e.Message);
        Assert.Contains($"{empty} lacks train-images-idx3-ubyte.gz", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("DownloadAsync", e.Message);
        Assert.Contains(FashionMnist.EnvironmentVariable, e.Message);
    }

    [Fact]
    public async Task Download_checks_the_content_hash_and_leaves_nothing_on_a_mismatch()
    {
        var source = FakeFashionMnist(3);
        var files = Directory.GetFiles(source).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        var handler = new FileServer(files);
        var target = TempDir();

        // The real hashes do not match the fake files: every file is rejected and nothing is written.
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => FashionMnist.DownloadAsync(target, handler, "http://mirror.test/"));
        Assert.Contains("SHA-256", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));

        // With the fake files' own hashes the download completes and the loader reads it.
        var expected = files.Keys.ToDictionary(f => f, f => FashionMnist.ContentHash(Path.Combine(source, f)));
        await FashionMnist.DownloadAsync(target, expected, handler, "http://mirror.test/", default);
        Assert.Equal(3, FashionMnist.Load(train: true, directory: target).Count);
        Assert.Equal(4, Directory.EnumerateFiles(target).Count());
    }

    [Fact]
    public void Shipped_hashes_match_the_installed_debian_files_when_present()
    {
        var dir = FashionMnist.DebianDirectory;
        if (!File.Exists(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"))) return;   // not installed: nothing to compare
        Assert.Equal(FashionMnist.ContentSha256["t10k-labels-idx1-ubyte.gz"], FashionMnist.ContentHash(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz")));
    }

    [Fact]
    public void Pixel_sequences_quantise_downsample_and_shift()
    {
        var set = FashionMnist.Load(train: true, directory: FakeFashionMnist(2));
        var full = ImageViews.PixelSequences(set, levels: 4);
        Assert.Equal(new long[] { 2, 784 }, full.Inputs.shape);
        var pixels = set.Images[0].flatten().to(ScalarType.Int64).data<long>().ToArray();
        Assert.Equal(pixels.Select(v => v * 4 / 256), full.Targets[0].data<long>().ToArray());       // ⌊v·4/256⌋
        Assert.Equal(4, full.Inputs[0, 0].item<long>());                                           // start token
        Assert.Equal(full.Targets[0, ..^1].data<long>().ToArray(), full.Inputs[0, 1..].data<long>().ToArray());

        var small = ImageViews.PixelSequences(set, levels: 8, downsample: 2);
        Assert.Equal(new long[] { 2, 196 }, small.Targets.shape);
        var img = set.Images[1].to(ScalarType.Float64);
        double mean = img[2..4, 6..8].mean().item<double>();                                      // block (1, 3)
        Assert.Equal((long)Math.Floor(mean * 8 / 256), small.Targets[1, 1 * 14 + 3].item<long>());
    }

    [Fact]
    public void Listops_labels_match_an_independent_stack_evaluator()
    {
        var task = ListOps.Generate(300, maxLength: 60, seed: 11, maxDepth: 5, maxArgs: 4, minLength: 5);
        Assert.Equal(16, task.VocabularySize);
        var inputs = task.Data.Inputs.data<long>().ToArray();
        var labels = task.Data.Targets.data<long>().ToArray();
        Assert.True(labels.Distinct().Count() >= 8, "labels should cover most of 0…9");
        for (int n = 0; n < 300; n++)
        {
            var tokens = inputs.Skip(n * 60).Take(60).TakeWhile(t => t != 0).Select(t => task.Vocabulary[(int)t]).ToList();
            Assert.InRange(tokens.Count, 5, 60);
            Assert.Equal(labels[n], EvaluateWithStack(tokens));
        }
        Assert.Equal(labels, ListOps.Generate(300, maxLength: 60, seed: 11, maxDepth: 5, maxArgs: 4, minLength: 5).Data.Targets.data<long>().ToArray());
    }

    /// <summary>Postfix-style evaluation with an explicit stack (the generator evaluates recursively while building).</summary>
    private static long EvaluateWithStack(List<string> tokens)
    {
        var stack = new Stack<(string Op, List<int> Args)>();
        int? result = null;
        foreach (var t in tokens)
        {
            if (t.StartsWith('[')) { stack.Push((t, [])); continue; }
            int value;
            if (t == "]")
            {
                var (op, args) = stack.Pop();
                var sorted = args.Order().ToArray();
                value = op switch
                {
                    "[MAX" => sorted[^1], "[MIN" => sorted[0], "[SM" => args.Sum() % 10,
                    _ => sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (int)Math.Floor((sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2.0),
                };
            }
            else value = int.Parse(t, System.Globalization.CultureInfo.InvariantCulture);
            if (stack.Count == 0) result = value; else stack.Peek().Args.Add(value);
        }
        return result!.Value;
    }

    [Fact]
    public void Copy_reverse_and_recall_put_the_loss_only_on_the_answer()
    {
        var copy = SequenceProbes.Copy(3, n: 4, symbols: 6, seed: 1);
        var x = copy.Data.Inputs[0].data<long>().ToArray();
        var y = copy.Data.Targets[0].data<long>().ToArray();
        Assert.Equal(1, x[4]);                                                       // separator
        Assert.Equal(x[..4], y[4..]);                                                // after ":", predict x₁…x₄
        Assert.All(y[..4], t => Assert.Equal(IDataset.IgnoreIndex, t));

        var reverse = SequenceProbes.Copy(3, n: 4, symbols: 6, seed: 1, reverse: true);
        Assert.Equal(x[..4].Reverse(), reverse.Data.Targets[0, 4..].data<long>().ToArray());

        var recall = SequenceProbes.AssociativeRecall(50, n: 3, keys: 5, values: 4, seed: 2);
        for (int e = 0; e < 50; e++)
        {
            var s = recall.Data.Inputs[e].data<long>().ToArray();
            var t = recall.Data.Targets[e].data<long>().ToArray();
            Assert.Equal(2, s[6]);                                                    // "?"
            int pair = Array.IndexOf(s, s[7]);
            Assert.True(pair % 2 == 0 && pair < 6, "the query is one of the keys");
            Assert.Equal(s[pair + 1], t[7]);
            Assert.Equal(7, t.Count(v => v == IDataset.IgnoreIndex));
        }
    }

    [Fact]
    public void Char_corpus_ships_splits_deterministically_and_windows_predict_the_next_character()
    {
        var corpus = CharCorpus.Load();
        Assert.EndsWith(Path.Combine("datasets", "moby-dick", "moby-dick.txt"), corpus.Source);
        long total = corpus.Train.shape[0] + corpus.Valid.shape[0] + corpus.Test.shape[0];
        Assert.InRange(total, 1_100_000, 1_300_000);
        Assert.Equal(total * 90 / 100, corpus.Train.shape[0]);
        Assert.StartsWith("CHAPTER 1. Loomings.", corpus.Decode(corpus.Train[..20]));
        Assert.InRange(corpus.VocabularySize, 60, 120);

        var windows = CharCorpus.Windows(corpus.Valid, length: 64);
        Assert.Equal((corpus.Valid.shape[0] - 65) / 64 + 1, windows.Count);
        Assert.Equal(windows.Inputs[3, 1..].data<long>().ToArray(), windows.Targets[3, ..^1].data<long>().ToArray());
        Assert.Equal(corpus.Valid[3 * 64 + 64].item<long>(), windows.Targets[3, 63].item<long>());
    }

    [Fact]
    public void Shuffled_batches_are_deterministic_and_cover_each_epoch()
    {
        var a = Batches.Shuffled(10, 3, seed: 5).Take(6).ToList();
        var b = Batches.Shuffled(10, 3, seed: 5).Take(6).ToList();
        Assert.Equal(a.SelectMany(x => x), b.SelectMany(x => x));
        Assert.Equal(9, a.Take(3).SelectMany(x => x).Distinct().Count());            // one epoch: 3 full batches, no repeats
        Assert.NotEqual(a.Take(3).SelectMany(x => x), a.Skip(3).SelectMany(x => x));  // next epoch reshuffled
        Assert.NotEqual(a.SelectMany(x => x), Batches.Shuffled(10, 3, seed: 6).Take(6).SelectMany(x => x));
    }

    private sealed class FileServer(Dictionary<string, byte[]> files) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var name = Path.GetFileName(request.RequestUri!.AbsolutePath);
            return Task.FromResult(files.TryGetValue(name, out var bytes)
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(bytes) }
                : new HttpResponseMessage(HttpStatusCode.NotFound));
        }
    }

    [Fact]
    public void Masked_windows_hide_fifteen_percent_as_bert_does()
    {
        var split = randint(0, 20, new long[] { 100_001 }, generator: new Generator(3), dtype: ScalarType.Int64);
        var data = CharCorpus.MaskedWindows(split, 100, vocabularySize: 20, rate: 0.15, seed: 9);
        var plain = CharCorpus.Windows(split, 100);
        var chosen = data.Targets.ne(IDataset.IgnoreIndex);
        Assert.InRange(chosen.to(ScalarType.Float64).mean().item<double>(), 0.14, 0.16);
        Assert.True(data.Targets.masked_select(chosen).eq(plain.Inputs.masked_select(chosen)).all().item<bool>(), "targets are the original characters");
        Assert.True(data.Inputs.masked_select(chosen.logical_not()).eq(plain.Inputs.masked_select(chosen.logical_not())).all().item<bool>(), "unchosen positions are untouched");
        var hidden = data.Inputs.masked_select(chosen);
        double masked = hidden.eq(20).to(ScalarType.Float64).mean().item<double>();
        double kept = data.Inputs.masked_select(chosen).eq(plain.Inputs.masked_select(chosen)).to(ScalarType.Float64).mean().item<double>();
        Assert.InRange(masked, 0.78, 0.82);                                         // 80 % mask token
        Assert.InRange(kept, 0.10, 0.12);                                           // 10 % kept + 10 % random that hit the same symbol (1/20)
        Assert.True(data.Inputs.le(20).all().item<bool>() && data.Inputs.ge(0).all().item<bool>());
        var again = CharCorpus.MaskedWindows(split, 100, vocabularySize: 20, rate: 0.15, seed: 9);
        Assert.True(again.Inputs.eq(data.Inputs).all().item<bool>(), "the same seed masks the same positions");
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => CharCorpus.MaskedWindows(split, 100, 20, rate: 1.5)).ParamName);
    }
}
