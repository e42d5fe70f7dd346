using EfficientAttention;

namespace EfficientAttention.Tests;

public class TrainerTests
{
    private static TrainerOptions Quiet(int steps, int batch = 32) => new()
    {
        Steps = steps, BatchSize = batch, LearningRate = 3e-3, WarmupSteps = 20, EvalEvery = 100, Progress = null, Seed = 7,
    };

    private static CausalLanguageModel Lm(int vocabulary, int length, long seed = 0, int layers = 2, double dropout = 0)
    {
        manual_seed(seed);
        return new CausalLanguageModel(new TransformerConfig(layers, 4, 64, 256, dropout, MaxLength: length), vocabulary);
    }

    [Fact]
    public void A_two_layer_model_learns_to_copy()
    {
        var train = SequenceProbes.Copy(4000, n: 10, symbols: 8, seed: 1);
        var valid = SequenceProbes.Copy(500, n: 10, symbols: 8, seed: 2);
        using var trainer = new Trainer(Lm(train.VocabularySize, train.Length), Quiet(300));
        var history = trainer.Fit(train.Data, valid.Data);
        Assert.True(history.Final!.Accuracy > 0.95, $"copy accuracy {history.Final}");
        Assert.Equal(5000, history.Final.Targets);                                   // 500 sequences × 10 answer tokens
        Assert.Equal(300, history.Train.Count);
        Assert.True(history.Train[^1].Loss < history.Train[0].Loss / 10, "loss should fall by 10×");
    }

    [Fact]
    public void Same_seed_same_history()
    {
        var task = SequenceProbes.Copy(256, n: 4, symbols: 5, seed: 3);
        double[] Run()
        {
            using var trainer = new Trainer(Lm(task.VocabularySize, task.Length, seed: 5, dropout: 0.1), Quiet(15, batch: 16));
            return trainer.Fit(task.Data).Train.Select(p => p.Loss).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Memory_stays_flat_over_many_steps()
    {
        // Every step allocates dozens of tensors; without the per-step dispose scope the live count would grow by them
        // at every step. It must not grow at all between step 50 and step 1050.
        var task = SequenceProbes.Copy(512, n: 4, symbols: 5, seed: 4);
        manual_seed(0);
        var model = new CausalLanguageModel(new TransformerConfig(1, 2, 16, 32, MaxLength: task.Length), task.VocabularySize);
        using var trainer = new Trainer(model, Quiet(50, batch: 8) with { EvalEvery = 25 });
        trainer.Fit(task.Data, task.Data.Take(16));
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var longer = new Trainer(model, Quiet(1050, batch: 8) with { EvalEvery = 25 });
        longer.Fit(task.Data, task.Data.Take(16));
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        longer.Dispose();
        Assert.True(after - before < 200, $"live tensors grew from {before} to {after} over 1000 steps"); // optimizer state: ~2 per parameter
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_decays_by_cosine()
    {
        Assert.Equal(0.1, Trainer.LearningRateAt(0, 10, 110, 1.0, 0.1), 12);
        Assert.Equal(1.0, Trainer.LearningRateAt(9, 10, 110, 1.0, 0.1), 12);
        Assert.Equal(1.0, Trainer.LearningRateAt(10, 10, 110, 1.0, 0.1), 12);
        Assert.Equal(0.55, Trainer.LearningRateAt(59, 10, 109, 1.0, 0.1), 12);           // halfway: 0.1 + 0.9 · ½(1 + cos π/2)
        Assert.Equal(0.1, Trainer.LearningRateAt(109, 10, 110, 1.0, 0.1), 12);
    }

    [Fact]
    public void A_reloaded_checkpoint_reproduces_evaluation_and_the_next_step()
    {
        var task = SequenceProbes.Copy(512, n: 4, symbols: 5, seed: 6);
        var path = Path.Combine(Directory.CreateTempSubdirectory("ckpt").FullName, "model.ckpt");
        using var first = new Trainer(Lm(task.VocabularySize, task.Length, seed: 1), Quiet(20, batch: 16));
        first.Fit(task.Data);
        first.Save(path);
        var evaluation = first.Evaluate(task.Data);

        using var a = new Trainer(Lm(task.VocabularySize, task.Length, seed: 99), Quiet(25, batch: 16));   // different init
        a.Load(path);
        Assert.Equal(20, a.Step);
        Assert.Equal(evaluation, a.Evaluate(task.Data));
        using var b = new Trainer(Lm(task.VocabularySize, task.Length, seed: 42), Quiet(25, batch: 16));
        b.Load(path);
        // Same parameters, optimizer moments and step → the same next steps (AdamW would differ without its state).
        Assert.Equal(a.Fit(task.Data).Train.Select(p => p.Loss), b.Fit(task.Data).Train.Select(p => p.Loss));
        Assert.False(Directory.EnumerateFiles(Path.GetDirectoryName(path)!).Any(f => f.EndsWith(".tmp")), "temporary file left behind");
    }

    [Fact]
    public void Text_progress_writes_a_line_every_N_steps()
    {
        var task = SequenceProbes.Copy(64, n: 3, symbols: 4, seed: 8);
        var log = new StringWriter();
        using var trainer = new Trainer(Lm(task.VocabularySize, task.Length), Quiet(10, batch: 8) with { Progress = new LineProgress(log), LogEvery = 4, Description = "probe" });
        trainer.Fit(task.Data);
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("probe: CausalLanguageModel: 2 layers × 4 heads, D = 64, MLP = 256,", lines[0]);
        Assert.Contains(" parameters", lines[0]);
        Assert.Equal(["probe 4/10", "probe 8/10", "probe 10/10"], lines.Skip(1).Select(l => string.Join(' ', l.Split(' ').Take(2))));
        Assert.All(lines.Skip(1), l => Assert.Contains("tok/s", l));
    }

    [Fact]
    public void Metrics_ignore_unlabelled_positions_and_derive_perplexity_and_bits()
    {
        var logits = tensor(new[] { 2.0, 0.0, 0.0, 3.0, 5.0, -5.0 }).view(1, 3, 2);   // (B, L, C)
        var targets = tensor(new long[] { 0, IDataset.IgnoreIndex, 1 }).view(1, 3);
        var (loss, correct, count) = Metrics.Totals(logits, targets);
        double expected = Math.Log(1 + Math.Exp(-2)) + Math.Log(1 + Math.Exp(10));   // −log p(target) at positions 0 and 2
        Assert.Equal(expected, loss, 12);
        Assert.Equal((1L, 2L), (correct, count));
        var e = new Evaluation(loss / count, (double)correct / count, count);
        Assert.Equal(Math.Exp(loss / 2), e.Perplexity, 12);
        Assert.Equal(loss / 2 / Math.Log(2), e.BitsPerDimension, 12);
    }
}
