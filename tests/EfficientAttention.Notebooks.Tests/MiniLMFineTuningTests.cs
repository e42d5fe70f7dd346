namespace EfficientAttention.Notebooks.Tests;

public class MiniLMFineTuningTests
{
    [Fact]
    public void A_short_entmax_run_writes_its_record_and_its_local_weights()
    {
        Assert.Equal(("entmax15", 3, 2L, false, (int?)null), MiniLMFineTuning.Parse("minilm-mlm-entmax15-s2"));
        Assert.Equal(("softmax", 6, 1L, false, (int?)null), MiniLMFineTuning.Parse("minilm-mlm-softmax-e6-s1"));
        Assert.Equal(("entmax15", 6, 0L, true, (int?)null), MiniLMFineTuning.Parse("minilm-mlm-entmax15-cal-e6-s0"));
        Assert.Equal(("entmax15", 6, 2L, true, (int?)90), MiniLMFineTuning.Parse("minilm-mlm-entmax15-cal90-e6-s2"));
        Assert.Equal("minilm-mlm-entmax15-cal-e6-s0", MiniLMFineTuning.RunName("entmax15", 0, 6, calibrated: true));
        Assert.Equal("minilm-mlm-entmax15-cal90-e6-s2", MiniLMFineTuning.RunName("entmax15", 2, 6, calibrated: true, calibrationSparsityPercent: 90));
        Assert.Null(MiniLMFineTuning.Parse("minilm-mlm-softmax-cal-s0"));
        Assert.Equal("minilm-mlm-softmax-e6-s1", MiniLMFineTuning.RunName("softmax", 1, 6));
        Assert.Null(MiniLMFineTuning.Parse("minilm-mlm-sparsemax-s0"));
        var dir = Directory.CreateTempSubdirectory("minilm").FullName;
        try
        {
            var record = MiniLMFineTuning.Train("entmax15", 0, null, new MiniLMFineTuning.Options(Length: 16, BatchSize: 4, HeldOutFraction: 0.005, MaxSteps: 2), dir);
            Assert.Equal("minilm-mlm-entmax15-s0", record.Name);
            Assert.Equal(2, record.Steps);
            Assert.True(double.IsFinite(record.Value) && record.Value > 1, $"perplexity {record.Value}");
            Assert.InRange(record.Scores!["accuracy"], 0, 1);
            Assert.True(File.Exists(Path.Combine(dir, "minilm-mlm-entmax15-s0.json")));
            Assert.True(File.Exists(Path.Combine(dir, "local", "minilm-mlm-entmax15-s0.bin")));
            Assert.Equal("entmax15", Checkpoints.ReadManifest("minilm-mlm-entmax15-s0", dir).Config["normalizer"]);
            Assert.Throws<ArgumentException>(() => MiniLMFineTuning.Train("sparsemax", 0, null, null, dir));
            Assert.Throws<ArgumentException>(() => MiniLMFineTuning.Train("softmax", 0, null, new MiniLMFineTuning.Options(Calibrate: true), dir));
            var calibrated = MiniLMFineTuning.Train("entmax15", 0, null, new MiniLMFineTuning.Options(Length: 16, BatchSize: 4, HeldOutFraction: 0.005, MaxSteps: 1, Calibrate: true, CalibrationSparsity: 0.9), dir);
            Assert.Equal("minilm-mlm-entmax15-cal90-s0", calibrated.Name);
            Assert.StartsWith("per head", calibrated.Config["temperature"]);
            Assert.Contains("≥ 90 % zeros", calibrated.Config["temperature"]);
            Assert.Equal("entmax15-cal90", calibrated.Variant);
            using var loaded = MiniLMFineTuning.Load("entmax15", 0, directory: dir);
            var (_, heldOut, _) = MiniLMFineTuning.Data(EfficientAttention.Pretrained.MiniLM.Load(), new MiniLMFineTuning.Options(Length: 16, HeldOutFraction: 0.005), 0);
            var evaluation = Metrics.Evaluate(loaded, heldOut, 0, 16);
            Assert.Equal(record.Value, evaluation.Perplexity, 0.01 * record.Value);         // float16 weights: within 1 %
            using var miniLM = EfficientAttention.Pretrained.MiniLM.Load();
            using var batch = miniLM.Tokenize(["Call me Ishmael.", "Some years ago, never mind how long precisely, I thought I would sail about a little."]);
            var sparsity = MiniLMFineTuning.GoldSparsity(loaded.Encoder, batch);
            Assert.Equal(6, sparsity.Length);
            Assert.All(sparsity.SelectMany(h => h), s => Assert.InRange(s, 0.01, 0.99));      // entmax heads: some exact zeros, never all
            Assert.All(MiniLMFineTuning.GoldSparsity(miniLM.Encoder, batch).SelectMany(h => h), s => Assert.Equal(0, s));   // softmax: none
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
