using EfficientAttention;
using EfficientAttention.Notebooks;

// dotnet run -c Release --project src/Retrain -- [--missing] [--threads N] [--list] RUN…
//   RUN: a run name (reuse-vit-baseline-s0), a recipe and variant for seeds 0–2 (reuse-vit-k2), a recipe (reuse-vit:
//   every variant, seeds 0–2) or "all". --missing skips runs that already have a record. Progress goes to standard output.
var runs = new List<(Recipe Recipe, long Seed)>();
bool missingOnly = false, listOnly = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--missing": missingOnly = true; break;
        case "--list": listOnly = true; break;
        case "--threads":
            TorchRuntime.EnsureLoaded();
            TorchSharp.torch.set_num_threads(int.Parse(args[++i]));
            break;
        default:
            var matched = RecipeCatalog.Resolve(args[i]);
            if (matched.Count == 0)
            {
                Console.Error.WriteLine($"'{args[i]}' names no run. Known runs:\n  {string.Join("\n  ", RecipeCatalog.Runs().Select(r => r.Recipe.RunName(r.Seed)))}");
                return 2;
            }
            runs.AddRange(matched);
            break;
    }
}
if (runs.Count == 0) { Console.Error.WriteLine("Name at least one run (or 'all'); --list shows them."); return 2; }
if (missingOnly) runs = runs.Where(r => !Checkpoints.Exists(r.Recipe.RunName(r.Seed))).ToList();
if (listOnly)
{
    double total = 0;
    foreach (var (recipe, seed) in runs)
    {
        var record = Checkpoints.Exists(recipe.RunName(seed)) ? Checkpoints.ReadManifest(recipe.RunName(seed)) : null;
        total += record?.WallSeconds ?? 0;
        Console.WriteLine($"{recipe.RunName(seed),-28} {(record is null ? "not trained" : $"{record.WallSeconds / 60,6:F1} min  {record.Metric} {record.Value:F4}")}");
    }
    Console.WriteLine($"recorded training time of the listed runs: {total / 3600:F2} h (single thread)");
    return 0;
}
foreach (var (recipe, seed) in runs)
{
    var trained = recipe.Train(seed, LineProgress.Console);
    Console.WriteLine($"DONE {trained.Manifest.Name}: {trained.Manifest.Metric} {trained.Manifest.Value:F4} in {trained.Manifest.WallSeconds:F0} s");
    trained.Model.Dispose();
}
return 0;
