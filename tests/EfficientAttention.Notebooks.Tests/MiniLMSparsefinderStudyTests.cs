namespace EfficientAttention.Notebooks.Tests;

public class MiniLMSparsefinderStudyTests
{
    private static MiniLMSparsefinderResult Result()
    {
        GraphPoint P(int seed, string setting, double s, double recall) => new("official", seed, "k-means", setting, "held-out", s, recall, 0.1, 0.9);
        RoutedPoint R(string setting, double s, double ppl, bool tuned = false) => new("pattern", 0, "window + CLS/SEP", setting, s, ppl, 0.3, tuned);
        return new MiniLMSparsefinderResult([[0.9]], [1, 0.9, 0.5],
            [P(0, "c=4", 0.80, 0.9), P(0, "c=16", 0.95, 0.6), P(1, "c=4", 0.85, 0.8), P(1, "c=16", 0.95, 0.7)],
            [R("w=8", 0.85, 100), R("w=2", 0.95, 200), R("w=4", 0.92, 999, tuned: true)], 90, 0.3, new Dictionary<string, double[]>());
    }

    [Fact]
    public void Recall_is_read_off_each_projection_seeds_sweep_and_averaged()
    {
        var r = Result();
        double seed0 = 0.9 + (0.6 - 0.9) * (0.9 - 0.8) / (0.95 - 0.8), seed1 = 0.8 + (0.7 - 0.8) * (0.9 - 0.85) / (0.95 - 0.85);
        Assert.Equal((seed0 + seed1) / 2, MiniLMSparsefinderStudy.At(r, "official", "k-means", "held-out", 0.9), 12);
        Assert.True(double.IsNaN(MiniLMSparsefinderStudy.At(r, "official", "k-means", "held-out", 0.97)), "a sparsity no sweep reaches");
        Assert.Contains("no such points", Assert.Throws<ArgumentException>(() => MiniLMSparsefinderStudy.At(r, "ours", "k-means", "held-out", 0.9)).Message);
    }

    [Fact]
    public void Routed_cross_entropy_is_interpolated_between_the_bracketing_frozen_settings()
    {
        var r = Result();
        double expected = Math.Log(100) + (0.9 - 0.85) / (0.95 - 0.85) * (Math.Log(200) - Math.Log(100));   // the fine-tuned point at 0.92 is not used
        Assert.Equal(expected, MiniLMSparsefinderStudy.CrossEntropyAt(r, "pattern", "window + CLS/SEP", 0.9), 12);
        Assert.True(double.IsNaN(MiniLMSparsefinderStudy.CrossEntropyAt(r, "pattern", "window + CLS/SEP", 0.96)));
    }

    [Fact]
    public void The_record_names_its_model_and_refuses_softmax_runs()
    {
        Assert.Equal("sparsefinder-minilm-mlm-entmax15-cal-e6-s1", MiniLMSparsefinderStudy.RecordName("minilm-mlm-entmax15-cal-e6-s1"));
        Assert.Contains("src/Retrain -- --threads 1 sparsefinder-minilm-mlm-entmax15-cal-e6-s1", MiniLMSparsefinderStudy.Command("minilm-mlm-entmax15-cal-e6-s1"));
        Assert.Contains("softmax heads", Assert.Throws<ArgumentException>(() => MiniLMSparsefinderStudy.Record("minilm-mlm-softmax-e6-s0")).Message);
        Assert.Contains("run = nonsense", Assert.Throws<ArgumentException>(() => MiniLMSparsefinderStudy.Record("nonsense")).Message);
    }
}
