namespace EfficientAttention.Pretrained;

/// <summary>How the study draws its sentences and what it sweeps; everything that shapes its numbers.</summary>
public sealed record ReuseStudyConfig(int Sets = 3, int SetSize = 96, int CalibrationSize = 64, int SentenceSeed = 0, int MinWords = 8, int MaxWords = 40, int Neighbours = 10)
{
    public static readonly int[] DefaultKs = [1, 2, 3, 4, 6, 8, 12];
    public int[] Ks { get; init; } = DefaultKs;

    /// <summary>The config as strings, for a record's provenance (a stored record is reused only when this matches exactly).</summary>
    public SortedDictionary<string, string> Describe(string corpus) => new()
    {
        ["model"] = $"{MiniLM.PackageId} {MiniLM.PackageVersion}", ["corpus"] = corpus, ["sets"] = $"{Sets}", ["set_size"] = $"{SetSize}",
        ["calibration_size"] = $"{CalibrationSize}", ["sentence_seed"] = $"{SentenceSeed}", ["words"] = $"{MinWords}–{MaxWords}",
        ["neighbours"] = $"{Neighbours}", ["ks"] = string.Join(",", Ks), ["untrained_seed"] = "set index", ["shuffle_seed"] = "set index",
    };
}

/// <summary>One sentence set's layer × layer similarities (pretrained, untrained, pretrained on word-shuffled input).</summary>
public sealed record SetSimilarity(int Set, double[][] Pretrained, double[][] Untrained, double[][] Shuffled);

/// <summary>One point of the reuse sweep on one sentence set: mean cosine to the unchanged model's embeddings and mean top-k neighbour agreement.</summary>
public sealed record SweepPoint(int Set, int K, string Maps, double Cosine, double Neighbours);

/// <summary>What <see cref="PretrainedReuseStudy.Run"/> measures.</summary>
public sealed record ReuseStudyResult(IReadOnlyList<SetSimilarity> Similarity, double[][][][] Calibration, IReadOnlyList<SweepPoint> Sweep);

/// <summary>
/// Reuse Transformers' analysis on MiniLM: disjoint sets of Moby-Dick sentences; per set the layer × layer similarity of
/// the pretrained model, of the same architecture untrained (BERT initialisation, seed = set index) and of the
/// pretrained model on the same sentences with their words shuffled (seed = set index); then reuse at inference
/// (<see cref="InferenceReuse"/>) planned on a separate calibration set and swept over K on every set, against the
/// uniform-map control at the same heads.
/// </summary>
public static class PretrainedReuseStudy
{
    /// <summary>The sentence sets (disjoint, <see cref="ReuseStudyConfig.Sets"/> of them) and the calibration set, drawn from <paramref name="text"/>.</summary>
    public static (List<List<string>> Sets, List<string> Calibration) Draw(string text, ReuseStudyConfig config)
    {
        var all = PretrainedAnalysis.Sentences(text, config.MinWords, config.MaxWords).ToArray();
        int needed = config.Sets * config.SetSize + config.CalibrationSize;
        if (all.Length < needed) throw new ArgumentException($"text has {all.Length} usable sentences; the config needs {needed}.", nameof(text));
        new Random(config.SentenceSeed).Shuffle(all);
        var sets = Enumerable.Range(0, config.Sets).Select(i => all.Skip(i * config.SetSize).Take(config.SetSize).ToList()).ToList();
        return (sets, all.Skip(config.Sets * config.SetSize).Take(config.CalibrationSize).ToList());
    }

    /// <summary>The similarities of one set (about 10 s on 2 cores for 96 sentences).</summary>
    public static SetSimilarity Similarity(MiniLM model, IReadOnlyList<string> set, int index)
    {
        using var untrained = BertEncoder.Untrained(model.Encoder.Shape, index);
        var shuffled = set.Select(s => PretrainedAnalysis.ShuffleWords(s, new Random(index))).ToList();
        return new SetSimilarity(index,
            PretrainedAnalysis.LayerSimilarity(PretrainedAnalysis.HeadSimilarity(model, set)),
            PretrainedAnalysis.LayerSimilarity(PretrainedAnalysis.HeadSimilarity(model, set, encoder: untrained)),
            PretrainedAnalysis.LayerSimilarity(PretrainedAnalysis.HeadSimilarity(model, shuffled)));
    }

    /// <summary>Runs the whole study; <paramref name="progress"/> gets a line per step.</summary>
    public static ReuseStudyResult Run(MiniLM model, string text, ReuseStudyConfig config, Action<string>? progress = null)
    {
        var (sets, calibration) = Draw(text, config);
        var similarity = sets.Select((set, i) => { progress?.Invoke($"similarity: set {i + 1}/{sets.Count}"); return Similarity(model, set, i); }).ToList();
        progress?.Invoke("calibration: head similarity of adjacent layers");
        var calibrationSimilarity = PretrainedAnalysis.HeadSimilarity(model, calibration);
        var sweep = new List<SweepPoint>();
        for (int i = 0; i < sets.Count; i++)
        {
            using var reference = model.Embed(sets[i]);
            foreach (var k in config.Ks)
            {
                progress?.Invoke($"reuse sweep: set {i + 1}/{sets.Count}, K = {k}");
                var plan = InferenceReuse.Plan(calibrationSimilarity, k);
                foreach (var (maps, edit) in new[] { ("reused", InferenceReuse.Reuse(plan)), ("uniform", InferenceReuse.Uniform(plan)) })
                {
                    using var e = model.Embed(sets[i], edit: edit);
                    sweep.Add(new SweepPoint(i, k, maps, PretrainedAnalysis.Cosines(e, reference).Average(), PretrainedAnalysis.NeighbourAgreement(e, reference, config.Neighbours).Average()));
                }
            }
        }
        return new ReuseStudyResult(similarity, calibrationSimilarity, sweep);
    }
}
