using EfficientAttention;
using EfficientAttention.Notebooks;

namespace EfficientAttention.Notebooks.Tests;

public class CheckpointsTests
{
    /// <summary>A recipe small enough to train in a test: a 1-layer ViT on 64 random 8 × 8 images whose class is their brightest quadrant.</summary>
    private static Recipe Tiny(string directory, int steps = 30) => new()
    {
        Name = "tiny-vit", Variant = "baseline", Task = "quadrants", Metric = "accuracy", KeepWeights = true, Directory = directory,
        Build = seed => new VisionTransformer(new TransformerConfig(1, 2, 16, 32, MaxLength: 5), imageSize: 8, patchSize: 4, channels: 1, classes: 4, seed: seed),
        Data = () =>
        {
            var images = rand(new long[] { 64, 1, 8, 8 }, generator: new Generator(7));
            var labels = images.view(64, 2, 4, 2, 4).sum(new long[] { 2, 4 }).view(64, 4).argmax(1);
            var set = new TensorDataset(images, labels);
            return new RecipeData("random quadrants", "all 64", set, "the same 64", set);
        },
        Options = new TrainerOptions { Steps = steps, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 5, Progress = null },
        Score = e => e.Accuracy,
    };

    private static string TempDirectory() => Directory.CreateTempSubdirectory("ea-checkpoints-").FullName;

    [Fact]
    public void A_trained_checkpoint_loads_with_its_recorded_metric()
    {
        var dir = TempDirectory();
        var recipe = Tiny(dir);
        var trained = recipe.Train(seed: 3);
        Assert.Equal("tiny-vit-baseline-s3", trained.Manifest.Name);
        Assert.Equal("float16", trained.Manifest.Dtype);
        Assert.Equal(Checkpoints.Sha256Of(Path.Combine(dir, trained.Manifest.Weights!)), trained.Manifest.Sha256);
        Assert.Contains("src/Retrain -- tiny-vit-baseline-s3", trained.Manifest.Command);
        var loaded = recipe.Load(seed: 3);
        Assert.Equal(trained.Manifest.Value, recipe.Evaluate(loaded.Model), 9);                 // the recorded metric, exactly
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));                                        // nothing half-written left
        Assert.Equal(["tiny-vit-baseline-s3"], Checkpoints.All(dir).Select(m => m.Name));
    }

    [Fact]
    public void A_recipe_that_tracks_its_curve_records_mean_losses_and_held_out_points()
    {
        var dir = TempDirectory();
        var recipe = Tiny(dir) with { TrackCurve = true, Options = Tiny(dir).Options with { LogEvery = 10, EvalEvery = 15 } };
        var trained = recipe.Train(seed: 1);
        var curve = trained.Manifest.Curve!;
        Assert.Equal([10, 20, 30], curve.Select(p => p.Step));
        Assert.Equal(trained.History!.Train.Where(p => p.Step is > 10 and <= 20).Average(p => p.Loss), curve[1].TrainLoss, 4);
        Assert.Equal([null, null, Math.Round(trained.Manifest.Value, 5)], curve.Select(p => p.HeldOut));   // step 15's evaluation falls between points; 30 is the last
        Assert.Equal(curve, Checkpoints.ReadManifest("tiny-vit-baseline-s1", dir).Curve);
        Assert.Null(Tiny(dir).Train(seed: 2).Manifest.Curve);
    }

    [Fact]
    public void Loading_says_what_is_wrong()
    {
        var dir = TempDirectory();
        Tiny(dir).Train(seed: 0);
        var changed = Assert.Throws<InvalidDataException>(() => Tiny(dir, steps: 31).Load(0));   // recipe asks for another config
        Assert.Contains("steps: recorded 30, recipe 31", changed.Message);
        Assert.Contains("src/Retrain -- tiny-vit-baseline-s0", changed.Message);
        File.AppendAllText(Path.Combine(dir, "tiny-vit-baseline-s0.bin"), "x");
        var corrupt = Assert.Throws<InvalidDataException>(() => Tiny(dir).Load(0));
        Assert.Contains("SHA-256", corrupt.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => Tiny(dir).Load(1));
        Assert.Contains("tiny-vit-baseline-s1", missing.Message);
        Assert.Throws<ArgumentException>(() => Tiny(dir).Train(0, steps: 3));                    // a short run is never the checkpoint
    }

    /// <summary>Every committed checkpoint loads (hash and config) and reproduces the held-out metric its manifest records.</summary>
    [Fact]
    public void Every_shipped_checkpoint_reproduces_its_recorded_metric()
    {
        EfficientAttention.Tests.Shared.DatasetSetup.FashionMnistDirectory();              // the ViT and pixel checkpoints read the real test split
        foreach (var (recipe, seed) in RecipeCatalog.Runs().Where(r => r.Recipe.KeepWeights && Checkpoints.Exists(r.Recipe.RunName(r.Seed))))
        {
            var loaded = recipe.Load(seed);
            double measured = recipe.Evaluate(loaded.Model);
            Assert.True(Math.Abs(measured - loaded.Manifest.Value) <= 1e-3,
                $"{loaded.Manifest.Name}: measured {measured:F5}, manifest records {loaded.Manifest.Value:F5} (tolerance 0.001)");
            loaded.Model.Dispose();
        }
    }

    [Fact]
    public void Every_record_in_the_folder_belongs_to_a_known_run_and_its_config()
    {
        var known = RecipeCatalog.Runs().ToDictionary(r => r.Recipe.RunName(r.Seed));
        foreach (var manifest in Checkpoints.All())
        {
            Assert.True(known.ContainsKey(manifest.Name), $"{manifest.Name}.json names no run in RecipeCatalog");
            var (recipe, seed) = known[manifest.Name];
            recipe.Record(seed);                                                                  // throws on a config mismatch
        }
    }

    [Fact]
    public void Every_combiner_task_trains_full_attention_and_combiner_fixed_and_the_catalogue_holds_their_runs()
    {
        foreach (var task in CombinerRecipes.Tasks)
        {
            var variants = CombinerRecipes.VariantsOf(task);
            Assert.Equal(CombinerVariant.Full, variants[0]);
            Assert.Contains(CombinerVariant.CombinerFixed, variants);
            Assert.Equal(variants.Count, variants.Distinct().Count());
        }
        Assert.Equal(CombinerVariant.All, CombinerRecipes.VariantsOf("pixels"));
        Assert.Contains("task = 'lra'", Assert.Throws<ArgumentException>(() => CombinerRecipes.VariantsOf("lra")).Message);
        Assert.Equal(2 * 8 * 3 + 6 * 3 + 2 * 3, RecipeCatalog.Runs().Count(r => r.Recipe.Name.StartsWith("combiner-")));
    }

    [Fact]
    public void Every_recipe_builds_a_model_that_reads_its_data()
    {
        EfficientAttention.Tests.Shared.DatasetSetup.FashionMnistDirectory();
        foreach (var recipe in RecipeCatalog.Recipes())
        {
            var data = recipe.Data();
            using var model = recipe.Build(recipe.Seeds[0]);
            model.eval();
            using var _ = no_grad();
            var (inputs, targets) = data.HeldOut.Get([0, 1]);
            var logits = model.call(inputs);
            Assert.True(Metrics.CrossEntropy(logits, targets).isfinite().item<bool>(), $"{recipe.Name}-{recipe.Variant}: loss on held-out data is not finite");
            var (trainInputs, _) = data.Train.Get([0]);
            Assert.Equal(inputs.shape[1..], trainInputs.shape[1..]);
        }
        Assert.Equal(RecipeCatalog.Runs().Count(), RecipeCatalog.Runs().Select(r => r.Recipe.RunName(r.Seed)).Distinct().Count());   // run names are unique
    }
}
