using System.Diagnostics;
using EfficientAttention;
using EfficientAttention.Notebooks;

// dotnet run -c Release --project src/Retrain -- [--missing] [--threads N] [--list] RUN…
//   RUN: a run name (reuse-vit-baseline-s0), a recipe and variant for seeds 0–2 (reuse-vit-k2), a recipe (reuse-vit:
//   every variant, seeds 0–2) or "all". --missing skips runs that already have a record. Progress goes to standard output.
//   minilm-mlm-{softmax|entmax15[-cal[NN]]}[-e<epochs>]-s<seed> fine-tunes pretrained MiniLM on masked LM (MiniLMFineTuning), in this process.
//   sparsefinder-[small-]<a minilm-mlm-entmax15… run> recomputes the Sparsefinder study's record on that fine-tuned model (MiniLMSparsefinderStudy).
//   Each run trains in a process of its own (this program with --in-process and the run's name); a run whose process
//   dies (a native crash, an exception) is retried once, and the summary says which runs were retried and how they ended.
//   On Linux it runs with glibc's malloc on transparent huge pages (HugePages): without them a MiniLM study spent half
//   its time in the kernel page-faulting libtorch's large fresh tensors, 4 KiB at a time.
if (EfficientAttention.Shared.HugePages.Relaunch(args) is { } relaunched) return relaunched;
var runs = new List<(Recipe Recipe, long Seed)>();
bool missingOnly = false, listOnly = false, inProcess = false;
string? threads = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--missing": missingOnly = true; break;
        case "--list": listOnly = true; break;
        case "--in-process": inProcess = true; break;
        case "--threads":
            threads = args[++i];
            TorchRuntime.EnsureLoaded();
            TorchSharp.torch.set_num_threads(int.Parse(threads));
            break;
        default:
            if (MiniLMFineTuning.Parse(args[i]) is { } fineTune)                        // MiniLM masked-LM fine-tuning (issue: Sparsefinder on pretrained heads)
            {
                var record = MiniLMFineTuning.Train(fineTune.Normalizer, fineTune.Seed, LineProgress.Console, new MiniLMFineTuning.Options(Epochs: fineTune.Epochs, Calibrate: fineTune.Calibrated, CalibrationSparsity: fineTune.CalibrationSparsityPercent / 100.0));
                Console.WriteLine($"DONE {record.Name}: {record.Metric} {record.Value:F3}, accuracy {record.Scores!["accuracy"]:P2} in {record.WallSeconds:F0} s");
                return 0;
            }
            if (args[i].StartsWith("sparsefinder-minilm-", StringComparison.Ordinal) || args[i].StartsWith("sparsefinder-small-minilm-", StringComparison.Ordinal))
            {                                                                           // the Sparsefinder study on a fine-tuned entmax MiniLM (its record), or the small one
                bool small = args[i].StartsWith("sparsefinder-small-", StringComparison.Ordinal);
                var study = MiniLMSparsefinderStudy.Record(args[i][(small ? "sparsefinder-small-" : "sparsefinder-").Length..], small ? MiniLMSparsefinderConfig.Small : null, recompute: true, progress: Console.WriteLine);
                Console.WriteLine($"DONE {study.Name} in {study.WallSeconds:F0} s");
                return 0;
            }
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
if (inProcess)
{
    foreach (var (recipe, seed) in runs)
    {
        var trained = recipe.Train(seed, LineProgress.Console);
        Console.WriteLine($"DONE {trained.Manifest.Name}: {trained.Manifest.Metric} {trained.Manifest.Value:F4} in {trained.Manifest.WallSeconds:F0} s");
        trained.Model.Dispose();
    }
    return 0;
}

var retried = new List<string>();
var failed = new List<string>();
foreach (var (recipe, seed) in runs)
{
    var name = recipe.RunName(seed);
    int exit = TrainInItsOwnProcess(name);
    if (exit == 0) continue;
    Console.WriteLine($"RETRY {name}: its process died with exit code {exit}; training it again, once");
    exit = TrainInItsOwnProcess(name);
    retried.Add($"{name} ({(exit == 0 ? "ok on the second try" : $"died again, exit code {exit}")})");
    if (exit != 0) failed.Add(name);
}
Console.WriteLine($"retrain: {runs.Count} run(s), {runs.Count - failed.Count} trained, {retried.Count} retried{(retried.Count > 0 ? ": " + string.Join(", ", retried) : "")}, {failed.Count} failed");
return failed.Count == 0 ? 0 : 1;

// This program again with --in-process for one run; its output goes straight to this console.
int TrainInItsOwnProcess(string name)
{
    var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
    start.ArgumentList.Add("--in-process");
    if (threads is not null) { start.ArgumentList.Add("--threads"); start.ArgumentList.Add(threads); }
    start.ArgumentList.Add(name);
    using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Environment.ProcessPath}");
    child.WaitForExit();
    return child.ExitCode;
}
