namespace EfficientAttention.Notebooks.Tests;

public class MiniLMFineTuningTests
{
    [Fact]
    public void A_short_entmax_run_writes_its_record_and_its_local_weights()
    {
        Assert.Equal(("entmax15", 2L), MiniLMFineTuning.Parse("minilm-mlm-entmax15-s2"));
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
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
