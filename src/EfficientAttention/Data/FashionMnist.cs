using System.IO.Compression;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>Images (N, H, W) uint8 and labels (N) int64, with where they were read from.</summary>
public sealed record ImageSet(Tensor Images, Tensor Labels, string Source)
{
    public int Count => (int)Images.shape[0];
}

/// <summary>
/// Fashion-MNIST (Xiao, Rasul &amp; Vollgraf, 2017; MIT licence): 28×28 grey images of 10 clothing classes, 60 000 for
/// training and 10 000 for test, as four IDX .gz files. Looked for, in order: an explicit directory, the environment
/// variable <see cref="EnvironmentVariable"/>, <c>datasets/fashion-mnist/</c> (found upwards from the working directory),
/// and Debian's <c>/usr/share/datasets/fashion-mnist/</c> (package <c>dataset-fashion-mnist</c>).
/// </summary>
public static class FashionMnist
{
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";
    public const string RepositoryDirectory = "datasets/fashion-mnist";
    public const string OfficialSource = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    /// <summary>
    /// SHA-256 of each file's <b>decompressed</b> IDX bytes (the .gz bytes differ between mirrors that recompress, the
    /// contents do not), computed from Debian's dataset-fashion-mnist 0.0~git20200523 files.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ContentSha256 { get; } = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte.gz"] = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ["train-labels-idx1-ubyte.gz"] = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ["t10k-images-idx3-ubyte.gz"] = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ["t10k-labels-idx1-ubyte.gz"] = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    };

    private static string Images(bool train) => train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz";
    private static string Labels(bool train) => train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz";

    /// <summary>The places searched, in order, for a given explicit directory (null: none).</summary>
    public static IReadOnlyList<(string Where, string? Directory)> Candidates(string? directory = null) =>
    [
        ("explicit directory argument", directory),
        ($"environment variable {EnvironmentVariable}", Environment.GetEnvironmentVariable(EnvironmentVariable)),
        ($"{RepositoryDirectory}/ in the repository", DataPaths.FindUp(RepositoryDirectory)),
        ("Debian package dataset-fashion-mnist", DebianDirectory),
    ];

    /// <summary>The first candidate directory holding all four files.</summary>
    /// <exception cref="FileNotFoundException">None has them; the message lists where it looked and the three ways to get them.</exception>
    public static string Locate(string? directory = null) => Locate(Candidates(directory));

    internal static string Locate(IReadOnlyList<(string Where, string? Directory)> candidates)
    {
        var tried = new List<string>();
        foreach (var (where, dir) in candidates)
        {
            if (string.IsNullOrEmpty(dir)) { tried.Add($"  {where}: not set"); continue; }
            var missing = ContentSha256.Keys.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
            if (missing.Count == 0) return dir;
            tried.Add($"  {where}: {dir} lacks {string.Join(", ", missing)}");
        }
        throw new FileNotFoundException($"""
            Fashion-MNIST was not found. Looked in:
            {string.Join(Environment.NewLine, tried)}
            Get it in one of three ways:
              1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist   (or run datasets/fetch.sh)
              2. Download: FashionMnist.DownloadAsync("{RepositoryDirectory}") fetches the four files from {OfficialSource}
                 and checks their SHA-256.
              3. Copy the four *-ubyte.gz files into {RepositoryDirectory}/ or a folder named by ${EnvironmentVariable}.
            """);
    }

    /// <summary>Loads the training (60 000) or test (10 000) split, optionally only its first <paramref name="limit"/> examples.</summary>
    public static ImageSet Load(bool train, string? directory = null, int? limit = null)
    {
        var dir = Locate(directory);
        var (imageDims, images) = Idx.Read(Path.Combine(dir, Images(train)));
        var (labelDims, labels) = Idx.Read(Path.Combine(dir, Labels(train)));
        if (imageDims.Length != 3 || labelDims.Length != 1 || imageDims[0] != labelDims[0])
            throw new InvalidDataException($"{dir}: images are {string.Join("×", imageDims)} and labels {string.Join("×", labelDims)}; expected N×H×W and N.");
        int n = Math.Min(imageDims[0], limit ?? int.MaxValue), h = imageDims[1], w = imageDims[2];
        TorchRuntime.EnsureLoaded();
        var imageTensor = tensor(images.AsSpan(0, n * h * w).ToArray(), new long[] { n, h, w }, ScalarType.Byte);
        var labelTensor = tensor(labels.AsSpan(0, n).ToArray().Select(b => (long)b).ToArray(), ScalarType.Int64);
        return new ImageSet(imageTensor, labelTensor, dir);
    }

    /// <summary>
    /// Downloads the four files from <paramref name="source"/> (default: the official address) into
    /// <paramref name="directory"/>: each goes to a temporary file, its decompressed content is checked against
    /// <see cref="ContentSha256"/>, and only then is it moved into place. A mismatch throws and leaves nothing behind.
    /// </summary>
    public static Task DownloadAsync(string directory, HttpMessageHandler? handler = null, string? source = null, CancellationToken cancel = default)
        => DownloadAsync(directory, ContentSha256, handler, source, cancel);

    internal static async Task DownloadAsync(string directory, IReadOnlyDictionary<string, string> expected, HttpMessageHandler? handler, string? source, CancellationToken cancel)
    {
        Directory.CreateDirectory(directory);
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        foreach (var (file, sha256) in expected)
        {
            var target = Path.Combine(directory, file);
            if (File.Exists(target) && ContentHash(target) == sha256) continue;
            await AtomicFile.WriteAsync(target, async output =>
            {
                using var response = await http.GetAsync(new Uri(new Uri(source ?? OfficialSource), file), cancel);
                response.EnsureSuccessStatusCode();
                await response.Content.CopyToAsync(output, cancel);
            }, tmp =>
            {
                var actual = ContentHash(tmp);
                if (actual != sha256)
                    throw new InvalidDataException($"{file} from {source ?? OfficialSource} has content SHA-256 {actual}; expected {sha256}. Nothing was written.");
            });
        }
    }

    /// <summary>SHA-256 (hex) of a .gz file's decompressed bytes.</summary>
    public static string ContentHash(string gzPath)
    {
        using var file = File.OpenRead(gzPath);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        try { return Convert.ToHexStringLower(SHA256.HashData(gz)); }
        catch (InvalidDataException) { return "(not a gzip file)"; }
    }
}

/// <summary>Task views over an <see cref="ImageSet"/>.</summary>
public static class ImageViews
{
    /// <summary>Classification: images as (N, 1, H, W) float32 in [0, 1], labels as targets.</summary>
    public static TensorDataset Classification(ImageSet set)
    {
        using var scope = NewDisposeScope();
        var x = set.Images.to(ScalarType.Float32).div(Scalars.Of(255)).unsqueeze(1);              // (N, 1, H, W)
        return new TensorDataset(x.MoveToOuterDisposeScope(), set.Labels);
    }

    /// <summary>
    /// Autoregressive pixel modelling (the small-scale stand-in for Combiner's CIFAR-10 bits-per-dim): images optionally
    /// average-pooled by <paramref name="downsample"/> (2: 28×28 → 14×14), quantised to <paramref name="levels"/> grey
    /// levels (level = ⌊v · levels / 256⌋), flattened in raster order. Inputs are the pixel tokens shifted right behind a
    /// start token (id = levels), targets are the pixels, so token t predicts pixel t from pixels &lt; t.
    /// Vocabulary: levels + 1. Bits per dimension = cross-entropy / ln 2 per pixel.
    /// </summary>
    public static TensorDataset PixelSequences(ImageSet set, int levels = 4, int downsample = 1)
    {
        if (levels < 2 || levels > 256) throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels = {levels}; expected 2…256.");
        long h = set.Images.shape[1];
        if (downsample < 1 || h % downsample != 0) throw new ArgumentOutOfRangeException(nameof(downsample), downsample, $"downsample = {downsample}; expected a divisor of the image size {h}.");
        using var scope = NewDisposeScope();
        var x = set.Images.to(ScalarType.Float32).unsqueeze(1);                       // (N, 1, H, W), values 0…255
        if (downsample > 1) x = nn.functional.avg_pool2d(x, downsample);
        var pixels = x.mul(Scalars.Of(levels)).div(Scalars.Of(256)).floor().clamp(Scalars.Zero, Scalars.Of(levels - 1)).to(ScalarType.Int64).flatten(1);   // (N, L)
        var start = full(new long[] { pixels.shape[0], 1 }, Scalars.Of(levels), ScalarType.Int64);
        var inputs = cat([start, pixels[.., ..^1]], 1);                               // (N, L): shifted right
        return new TensorDataset(inputs.MoveToOuterDisposeScope(), pixels.MoveToOuterDisposeScope());
    }
}
