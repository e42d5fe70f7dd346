namespace EfficientAttention.Notebooks.Tests;

public class RecordsTests
{
    private sealed record Point(int Set, double[][] Matrix, string Maps);

    [Fact]
    public void A_record_is_computed_once_then_loaded_while_its_config_matches_and_recomputed_when_it_does_not()
    {
        var dir = Directory.CreateTempSubdirectory("records").FullName;
        try
        {
            int runs = 0;
            Point[] Compute() { runs++; return [new Point(runs, [[1.0, 0.5], [0.5, 1.0]], "reused")]; }
            var config = new SortedDictionary<string, string> { ["sets"] = "3", ["model"] = "MiniLM" };
            var first = Records.LoadOrCompute("study", config, "run it again", Compute, checkpoints: dir);
            var second = Records.LoadOrCompute("study", new SortedDictionary<string, string>(config), "run it again", Compute, checkpoints: dir);
            Assert.Equal(1, runs);
            Assert.Equal(first.Value[0].Matrix, second.Value[0].Matrix);
            Assert.Equal("reused", second.Value[0].Maps);
            Assert.Equal("run it again", second.Command);
            var changed = Records.LoadOrCompute("study", new SortedDictionary<string, string>(config) { ["sets"] = "4" }, "run it again", Compute, checkpoints: dir);
            Assert.Equal(2, runs);
            Assert.Equal(2, changed.Value[0].Set);
            Records.LoadOrCompute("study", changed.Config, "run it again", Compute, recompute: true, checkpoints: dir);
            Assert.Equal(3, runs);
            Assert.Single(Directory.GetFiles(Records.DirectoryPath(dir)));                     // no temporary file left behind
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
