using System.CommandLine;
using BenchmarkDotNet.Running;
using EfficientAttention;
using EfficientAttention.Benchmarks;
using EfficientAttention.Shared;
using TorchSharp;
using static TorchSharp.torch;

// Benchmarks of every attention method in the package against libtorch's scaled_dot_product_attention.
if (HugePages.Relaunch(args) is { } exitCode) return exitCode;
TorchRuntime.EnsureLoaded();
var output = new Option<string>("--out") { Description = "where to write the JSON table", DefaultValueFactory = _ => "benchmarks.json" };
var markdown = new Option<string?>("--markdown") { Description = "also write the results as a markdown table here" };
var lengths = new Option<int[]>("--lengths") { Description = "sequence lengths", DefaultValueFactory = _ => [256, 1024, 2048, 4096, 8192], AllowMultipleArgumentsPerToken = true };
var only = new Option<string[]>("--only") { Description = "run only cases whose name starts with one of these", AllowMultipleArgumentsPerToken = true };
var rounds = new Option<int>("--rounds") { Description = "interleaved rounds of timed calls per length (medians over them)", DefaultValueFactory = _ => QuickRun.DefaultRounds };
var runs = new Option<int>("--runs") { Description = "independent whole runs of the suite (their medians and per-run fits go into one report)", DefaultValueFactory = _ => 1 };
var cuda = new Option<bool>("--cuda") { Description = "run on the GPU (needs the CUDA libtorch package; see README)" };

var quick = new Command("quick", "every case a few times after warm-up; medians and same-run ratios to SDPA as JSON") { output, markdown, lengths, only, rounds, runs, cuda };
quick.SetAction(result =>
{
    var device = result.GetValue(cuda) ? CUDA : CPU;
    if (device.type == DeviceType.CUDA && !torch.cuda.is_available()) { Console.Error.WriteLine("error: --cuda given but torch.cuda.is_available() is false"); return 2; }
    var prefixes = result.GetValue(only) ?? [];
    var cases = Cases.All(result.GetValue(lengths)!).Where(c => prefixes.Length == 0 || c.Name == "sdpa" || prefixes.Any(p => c.Name.StartsWith(p))).ToList();
    int count = result.GetValue(runs);
    if (count < 1) { Console.Error.WriteLine($"error: --runs {count}; expected ≥ 1"); return 2; }
    Console.WriteLine($"{cases.Count} cases × 2 passes on {device}, {count} run(s)");
    var reports = Enumerable.Range(1, count).Select(r =>
    {
        var one = QuickRun.Run(cases, device, line => Console.WriteLine($"run {r}/{count} {line}"), rounds: result.GetValue(rounds));
        if (count > 1) QuickRun.Write(one, result.GetValue(output)! + $".run{r}.partial");      // progress a later session can read
        return one;
    }).ToList();
    var report = QuickRun.Combine(reports);
    QuickRun.Write(report, result.GetValue(output)!);
    if (result.GetValue(markdown) is { } md) AtomicFile.WriteText(md, QuickRun.Markdown(report));
    for (int r = 1; r <= count && count > 1; r++) File.Delete(result.GetValue(output)! + $".run{r}.partial");
    Console.WriteLine($"wrote {result.GetValue(output)} ({report.Seconds} s)");
    return 0;
});

var bdnArgs = new Argument<string[]>("args") { Description = "BenchmarkDotNet arguments, e.g. --filter '*'", Arity = ArgumentArity.ZeroOrMore };
var bdn = new Command("bdn", "the full BenchmarkDotNet suite (slow)") { bdnArgs };
bdn.SetAction(result => { BenchmarkSwitcher.FromAssembly(typeof(AttentionBenchmarks).Assembly).Run(result.GetValue(bdnArgs)); return 0; });

var root = new RootCommand("Attention benchmarks: libtorch SDPA vs the package's methods") { quick, bdn };
return root.Parse(args).Invoke();
