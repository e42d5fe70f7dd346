using EfficientAttention;

namespace EfficientAttention.Tests;

public class SparsefinderTests
{
    private static Tensor Causal(long b, long h, long l) => AttentionGraph.Valid(AttentionMask.CausalOnly, b, h, l, l, CPU);

    private static bool[,] Bools(Tensor graph, long b, long h)
    {
        var s = graph[b, h].cpu().contiguous();
        long rows = s.shape[0], cols = s.shape[1];
        var data = s.data<bool>().ToArray();
        var r = new bool[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) r[i, j] = data[i * cols + j];
        return r;
    }

    private static void SameGraph(Tensor predicted, Func<long, long, bool[,]> reference, string what)
    {
        for (long b = 0; b < predicted.shape[0]; b++)
            for (long h = 0; h < predicted.shape[1]; h++)
            {
                var expected = reference(b, h);
                var actual = Bools(predicted, b, h);
                int differ = expected.Cast<bool>().Zip(actual.Cast<bool>()).Count(p => p.First != p.Second);
                Assert.True(differ == 0, $"{what}: {differ} pairs differ from the O(L²) loop at batch {b}, head {h}");
            }
    }

    [Fact]
    public void Gold_graph_is_the_entmax_support_of_a_hand_checked_row()
    {
        var p = Normalizers.Entmax15(tensor(new[] { -2.0, 0, 0.5 }).view(1, 1, 1, 3));
        TestTensors.Close([0, 0.3260, 0.6740], TestTensors.ToArray(p), 1e-4, "entmax15([−2, 0, 0.5])");
        Assert.Equal([false, true, true], AttentionGraph.Gold(p).flatten().data<bool>().ToArray());
    }

    [Fact]
    public void Routed_entmax_over_a_superset_of_the_support_equals_dense_entmax_forward_and_gradient()
    {
        var q = TestTensors.Randn(1, 2, 3, 16, 8).mul(2).requires_grad_(true);
        var k = TestTensors.Randn(2, 2, 3, 16, 8).requires_grad_(true);
        var v = TestTensors.Randn(3, 2, 3, 16, 5).requires_grad_(true);
        var valid = Causal(2, 3, 16);
        var (dense, p) = ScaledDotProductAttention.Naive(q, k, v, AttentionMask.CausalOnly, Normalizer.Entmax15);
        var gold = AttentionGraph.Gold(p!);
        Assert.True(gold.sum().item<long>() < valid.sum().item<long>(), "the test needs a sparse gold graph");
        var extra = rand(new long[] { 2, 3, 16, 16 }, ScalarType.Float64, generator: new Generator(7)).lt(0.3);
        var superset = gold.logical_or(extra).logical_and(valid);
        var layout = RoutedLayout.FromGraph(superset);
        Assert.True(layout.Width < 16, "the layout should be narrower than the full key length");
        var w = TestTensors.Randn(4, 2, 3, 16, 5);
        Tensor[] Grads(Tensor output) => autograd.grad([(output * w).sum()], [q, k, v], retain_graph: true).ToArray();
        var gd = Grads(dense);
        foreach (var strategy in new[] { RoutedStrategy.Gather, RoutedStrategy.ScoreRows })
        {
            var routed = RoutedEntmax.Attend(q, k, v, layout, strategy);
            TestTensors.Close(TestTensors.ToArray(dense), TestTensors.ToArray(routed), 1e-6, $"{strategy}: routed vs dense output");
            var gr = Grads(routed);
            for (int i = 0; i < 3; i++) TestTensors.Close(TestTensors.ToArray(gd[i]), TestTensors.ToArray(gr[i]), 1e-6, $"{strategy}: gradient {"qkv"[i]}");
        }
    }

    [Fact]
    public void Routed_entmax_over_a_graph_missing_support_is_entmax_restricted_to_that_graph()
    {
        var q = TestTensors.Randn(11, 1, 2, 10, 4).mul(2);
        var k = TestTensors.Randn(12, 1, 2, 10, 4);
        var v = TestTensors.Randn(13, 1, 2, 10, 3);
        var graph = rand(new long[] { 1, 2, 10, 10 }, ScalarType.Float64, generator: new Generator(5)).lt(0.4).logical_and(Causal(1, 2, 10));
        graph[0, 0, 3] = zeros(10, ScalarType.Bool);                                           // a query with no predicted key
        var (output, p) = RoutedEntmax.AttendWithProbabilities(q, k, v, RoutedLayout.FromGraph(graph), RoutedStrategy.Gather);
        var (rowsOutput, rowsP) = RoutedEntmax.AttendWithProbabilities(q, k, v, RoutedLayout.FromGraph(graph), RoutedStrategy.ScoreRows);
        TestTensors.Close(TestTensors.ToArray(output), TestTensors.ToArray(rowsOutput), 1e-12, "the two strategies agree");
        TestTensors.Close(TestTensors.ToArray(p), TestTensors.ToArray(rowsP), 1e-12, "the two strategies agree on P");
        for (long h = 0; h < 2; h++)
        {
            var (expected, expectedP) = Reference.Attention(TestTensors.Slice(q, 0, h), TestTensors.Slice(k, 0, h), TestTensors.Slice(v, 0, h), Bools(graph, 0, h), Reference.Entmax15);
            TestTensors.Close(TestTensors.Flat(expected), TestTensors.ToArray(output[0, h]), 1e-9, $"output head {h}");
            TestTensors.Close(TestTensors.Flat(expectedP), TestTensors.ToArray(p[0, h]), 1e-9, $"probabilities head {h}");
        }
        var sums = TestTensors.ToArray(p.sum(-1));
        var nonEmpty = graph.any(-1).flatten().data<bool>().ToArray();
        for (int i = 0; i < sums.Length; i++) Assert.Equal(nonEmpty[i] ? 1.0 : 0.0, sums[i], 9);
        Assert.True(p.masked_select(graph.logical_not()).eq(0).all().item<bool>(), "no probability outside Ĝ");
        Assert.Equal(0.0, TestTensors.ToArray(output[0, 0, 3]).Select(Math.Abs).Max());
    }

    [Fact]
    public void Routed_entmax_gradient_passes_a_finite_difference_check_with_an_empty_row()
    {
        var k = TestTensors.Randn(21, 1, 1, 6, 3);
        var v = TestTensors.Randn(22, 1, 1, 6, 2);
        var graph = rand(new long[] { 1, 1, 6, 6 }, ScalarType.Float64, generator: new Generator(9)).lt(0.6).logical_and(Causal(1, 1, 6));
        graph[0, 0, 2] = zeros(6, ScalarType.Bool);
        var layout = RoutedLayout.FromGraph(graph);
        foreach (var strategy in new[] { RoutedStrategy.Gather, RoutedStrategy.ScoreRows })
        {
            var check = GradCheck.Check(x => RoutedEntmax.Attend(x, k, v, layout, strategy), TestTensors.Randn(23, 1, 1, 6, 3));
            Assert.True(check.Passed, $"{strategy} dq: {check}");
            var checkK = GradCheck.Check(x => RoutedEntmax.Attend(TestTensors.Randn(23, 1, 1, 6, 3), x, v, layout, strategy), k);
            Assert.True(checkK.Passed, $"{strategy} dk: {checkK}");
            var checkV = GradCheck.Check(x => RoutedEntmax.Attend(TestTensors.Randn(23, 1, 1, 6, 3), k, x, layout, strategy), v);
            Assert.True(checkV.Passed, $"{strategy} dv: {checkV}");
        }
        var qg = TestTensors.Randn(23, 1, 1, 6, 3).requires_grad_(true);
        RoutedEntmax.Attend(qg, k, v, layout).sum().backward();
        Assert.False(qg.grad!.isnan().any().item<bool>());
    }

    [Fact]
    public void Layout_round_trips_a_graph()
    {
        var graph = rand(new long[] { 2, 2, 9, 9 }, generator: new Generator(3)).lt(0.3);
        var layout = RoutedLayout.FromGraph(graph);
        Assert.Equal(graph.sum(-1).max().item<long>(), layout.Width);
        Assert.True(layout.ToGraph().eq(graph).all().item<bool>());
    }

    [Fact]
    public void Distance_bucket_and_cluster_predictors_match_their_loops()
    {
        var q = TestTensors.Randn(31, 2, 2, 12, 3);
        var k = TestTensors.Randn(32, 2, 2, 12, 3);
        var valid = Causal(2, 2, 12);
        valid[1, .., .., 10..] = zeros(2, 12, 2, ScalarType.Bool);                              // padding in sequence 1
        var validOf = (long b, long h) => Bools(valid, b, h);

        SameGraph(new DistancePredictor(1.7).Predict(q, k, valid), (b, h) => GraphReference.Distance(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), validOf(b, h), 1.7), "distance");

        foreach (var kind in new[] { BucketKind.FixedSize, BucketKind.Quantile })
        {
            var buckets = BucketPredictor.Fit(q, k, 4, kind);
            Assert.Equal(new long[] { 2, 3, 3 }, buckets.Boundaries.shape);
            SameGraph(buckets.Predict(q, k, valid), (b, h) => GraphReference.Buckets(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), validOf(b, h),
                Enumerable.Range(0, 3).Select(c => TestTensors.ToArray(buckets.Boundaries[h, c])).ToArray()), $"buckets {kind}");
        }

        foreach (var (top, normalize) in new[] { (1, false), (2, false), (1, true) })
        {
            var clusters = KMeansPredictor.Fit(q, k, 4, top, normalize, seed: 1);
            SameGraph(clusters.Predict(q, k, valid), (b, h) => GraphReference.Clusters(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), validOf(b, h),
                Enumerable.Range(0, 4).Select(c => TestTensors.ToArray(clusters.Centroids[h, c])).ToArray(), top, normalize), $"k-means top {top} normalize {normalize}");
        }

        var lsh = new LshPredictor(4, rounds: 2, seed: 3);
        var rotations = lsh.Rotations(3, ScalarType.Float64, CPU);
        SameGraph(lsh.Predict(q, k, valid), (b, h) => GraphReference.Lsh(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), validOf(b, h),
            Enumerable.Range(0, 2).Select(r => TestTensors.Slice(rotations.unsqueeze(0), 0, r)).ToArray()), "lsh");
    }

    [Fact]
    public void Pattern_baselines_and_window_unions_match_their_loops()
    {
        var q = TestTensors.Randn(41, 1, 2, 20, 3);
        var k = TestTensors.Randn(42, 1, 2, 20, 3);
        var valid = Causal(1, 2, 20);
        var v = Bools(valid, 0, 0);
        SameGraph(PatternPredictor.SlidingWindow(3).Predict(q, k, valid), (_, _) => GraphReference.Window(v, 3), "window");
        SameGraph(PatternPredictor.Longformer(2, 2).Predict(q, k, valid), (_, _) => GraphReference.Window(v, 2, 2), "longformer");
        SameGraph(PatternPredictor.SparseTransformerFixed(5, 2).Predict(q, k, valid), (_, _) => GraphReference.Fixed(v, 5, 2), "fixed");
        SameGraph(PatternPredictor.SparseTransformerStrided(4).Predict(q, k, valid), (_, _) => GraphReference.Strided(v, 4), "strided");

        var distance = new DistancePredictor(0.8);
        var union = new WithWindow(distance, 2, firstKeys: 1).Predict(q, k, valid);
        SameGraph(union, (b, h) =>
        {
            var d = GraphReference.Distance(TestTensors.Slice(q, b, h), TestTensors.Slice(k, b, h), v, 0.8);
            var w = GraphReference.Window(v, 2);
            var g = new bool[20, 20];
            for (int i = 0; i < 20; i++) for (int j = 0; j < 20; j++) g[i, j] = v[i, j] && (d[i, j] || w[i, j] || j < 1);
            return g;
        }, "distance + window + first key");

        var bigbird = PatternPredictor.BigBird(1, 1, 3, seed: 2).Predict(q, k, valid);
        var longformer = PatternPredictor.Longformer(1, 1).Predict(q, k, valid);
        Assert.True(bigbird.logical_or(longformer).eq(bigbird).all().item<bool>(), "BigBird contains its window and globals");
        Assert.True(bigbird.sum().item<long>() > longformer.sum().item<long>(), "BigBird adds random keys");
        Assert.True(bigbird.eq(PatternPredictor.BigBird(1, 1, 3, seed: 2).Predict(q, k, valid)).all().item<bool>(), "seeded: the same pattern each call");
    }

    [Fact]
    public void No_predictor_crosses_the_causal_or_padding_mask()
    {
        var q = TestTensors.Randn(51, 2, 2, 16, 4);
        var k = TestTensors.Randn(52, 2, 2, 16, 4);
        var padding = ones(2, 16, ScalarType.Bool);
        padding[0, 12..] = zeros(4, ScalarType.Bool);
        var valid = AttentionGraph.Valid(new AttentionMask { Causal = true, KeyPadding = padding }, 2, 2, 16, 16, CPU);
        IGraphPredictor[] predictors =
        [
            new DistancePredictor(100), BucketPredictor.Fit(q, k, 2, BucketKind.Quantile), KMeansPredictor.Fit(q, k, 2, 2),
            new WithWindow(new DistancePredictor(0.1), 20, 3), PatternPredictor.SlidingWindow(20), PatternPredictor.Longformer(3, 4),
            PatternPredictor.BigBird(1, 2, 10), PatternPredictor.SparseTransformerFixed(4), PatternPredictor.SparseTransformerStrided(3),
            new LshPredictor(2, 3),
        ];
        foreach (var predictor in predictors)
        {
            var graph = predictor.Predict(q, k, valid);
            Assert.Equal(valid.shape, graph.shape);
            Assert.False(graph.logical_and(valid.logical_not()).any().item<bool>(), $"{predictor.Name} predicted a masked pair");
        }
    }

    [Fact]
    public void Metrics_of_a_hand_made_example()
    {
        // one head, 3 queries, causal: valid pairs 1 + 2 + 3 = 6
        var valid = Causal(1, 1, 3);
        var gold = tensor(new[] { true, false, false, true, true, false, false, true, true }).view(1, 1, 3, 3);
        var predicted = tensor(new[] { true, true, false, true, false, false, false, true, true }).view(1, 1, 3, 3); // (0,1) is masked
        var counts = GraphCounts.Of(predicted, gold, valid);
        Assert.Equal(new GraphCounts(6, 4, 5, 4, 3, 2), counts);                                  // query 1 misses key 1
        Assert.Equal(1 - 4 / 6.0, counts.Sparsity, 12);
        Assert.Equal(0.8, counts.Recall, 12);
        Assert.Equal(2 / 3.0, counts.ExactFraction, 12);
        Assert.Equal(1 - 5 / 6.0, counts.GoldSparsity, 12);
        Assert.True(double.IsNaN(counts.MassRecall), "no probabilities: mass recall is not measured");

        // rows sum to 1 over the gold pairs; query 1 misses key 1, which carries 0.25 of its mass
        var p = tensor(new[] { 1.0, 0, 0, 0.75, 0.25, 0, 0, 0.5, 0.5 }).view(1, 1, 3, 3);
        var weighted = GraphCounts.Of(predicted, gold, valid, p);
        Assert.Equal(3.0, weighted.GoldMass, 12);
        Assert.Equal(2.75, weighted.HitMass, 12);
        Assert.Equal(2.75 / 3, weighted.MassRecall, 12);
        Assert.Equal(counts.Recall, weighted.Recall, 12);
        Assert.Contains("probabilities has shape (1, 1, 3, 2)", Assert.Throws<ArgumentException>(() => GraphCounts.Of(predicted, gold, valid, p[.., .., .., ..2])).Message);
    }

    [Fact]
    public void A_sweep_is_read_at_a_sparsity_by_interpolation_and_never_beyond_its_ends()
    {
        // sparsity = 1 − predicted / 100; recall = hits / 10
        GraphCounts Point(long predicted, long hits) => new(100, predicted, 10, hits, 10, 0);
        GraphCounts[] sweep = [Point(5, 4), Point(20, 8), Point(40, 10)];                     // sparsity 0.95, 0.80, 0.60
        Assert.Equal(0.4 + (0.8 - 0.4) * (0.9 - 0.95) / (0.8 - 0.95), SparsityCurve.At(sweep, 0.9, c => c.Recall), 12);
        Assert.Equal(0.8, SparsityCurve.At(sweep, 0.8, c => c.Recall), 12);
        Assert.True(double.IsNaN(SparsityCurve.At(sweep, 0.97, c => c.Recall)), "beyond the sparsest setting");
        Assert.True(double.IsNaN(SparsityCurve.At(sweep, 0.5, c => c.Recall)), "beyond the densest setting");
        // a dominated setting between two good ones does not pull the curve down
        GraphCounts[] crossing = [Point(5, 4), Point(10, 2), Point(20, 8)];                    // 0.95 → 0.4, 0.90 → 0.2, 0.80 → 0.8
        Assert.Equal(0.8 + (0.4 - 0.8) * (0.9 - 0.8) / (0.95 - 0.8), SparsityCurve.At(crossing, 0.9, c => c.Recall), 12);   // not 0.2
        Assert.Contains("sparsity = 1.5", Assert.Throws<ArgumentOutOfRangeException>(() => SparsityCurve.At(sweep, 1.5, c => c.Recall)).Message);
    }

    [Fact]
    public void Margin_loss_matches_a_hand_computation_and_its_gradient_passes_finite_differences()
    {
        // one query, keys 0 (gold) and 1 (not): loss = [1 + ‖q − k₀‖² − ‖q − k₁‖²]₊
        var q = tensor(new[] { 0.5, 0.0 }).view(1, 1, 1, 2);
        var k = tensor(new[] { 1.0, 1.0, 0.0, -0.5 }).view(1, 1, 2, 2);
        var gold = tensor(new[] { true, false }).view(1, 1, 1, 2);
        var valid = ones(new long[] { 1, 1, 1, 2 }, ScalarType.Bool);
        double expected = 1 + (0.25 + 1) - (0.25 + 0.25);
        Assert.Equal(expected, SparsefinderProjection.MarginLoss(q, k, gold, valid).item<double>(), 12);
        Assert.Equal(0.0, SparsefinderProjection.MarginLoss(q, k, gold.logical_not(), valid, margin: 0.1).item<double>(), 12); // far negative: no loss

        var qs = TestTensors.Randn(61, 1, 2, 8, 3);
        var ks = TestTensors.Randn(62, 1, 2, 8, 3);
        var validCausal = Causal(1, 2, 8);
        var goldRandom = rand(new long[] { 1, 2, 8, 8 }, ScalarType.Float64, generator: new Generator(4)).lt(0.4).logical_and(validCausal);
        var check = GradCheck.Check(x => SparsefinderProjection.MarginLoss(x, ks, goldRandom, validCausal, 1.0, seed: 5).view(1), qs);
        Assert.True(check.Passed, check.ToString());
        var checkK = GradCheck.Check(x => SparsefinderProjection.MarginLoss(qs, x, goldRandom, validCausal, 1.0, seed: 5).view(1), ks);
        Assert.True(checkK.Passed, checkK.ToString());
    }

    [Fact]
    public void A_model_routed_over_every_valid_pair_equals_the_dense_model_and_projections_learn()
    {
        var model = new CausalLanguageModel(new TransformerConfig(2, 2, 16, 32, MaxLength: 24) { Attention = _ => new SparsefinderAttention() }, vocabularySize: 11, seed: 1);
        model.to(ScalarType.Float64).eval();
        var tokens = randint(0, 11, new long[] { 24, 24 }, generator: new Generator(8));
        var dense = model.call(tokens[..2]);
        var counts = GraphCounts.Zero;
        using var routedModel = model.WithAttention(_ => new SparsefinderAttention(PatternPredictor.SlidingWindow(100), onRouted: c => counts += c));
        var routed = routedModel.call(tokens[..2]);
        TestTensors.Close(TestTensors.ToArray(dense), TestTensors.ToArray(routed), 1e-9, "logits");
        Assert.Equal(2 * 2 * 2 * (24 * 25 / 2), counts.Valid);                              // layers · B · H · causal pairs
        Assert.Equal(counts.Valid, counts.Predicted);
        TestTensors.Close(TestTensors.ToArray(dense), TestTensors.ToArray(model.call(tokens[..2])), 0, "the original model is unchanged");

        var layers = Sparsefinder.Extract(model, tokens, batchSize: 5);
        Assert.Equal(2, layers.Length);
        Assert.Equal(new long[] { 24, 2, 24, 8 }, layers[1].Queries.shape);
        Assert.Equal(new long[] { 24, 2, 24, 24 }, layers[1].Gold.shape);
        Assert.False(layers[0].Gold.logical_and(layers[0].Valid.logical_not()).any().item<bool>());
        Assert.True(layers[1].Gold.eq(AttentionGraph.Gold(model.Forward(tokens, withProbabilities: true).Probabilities![1])).all().item<bool>(), "gold = the model's own support");
        Assert.Null(layers[1].Probabilities);
        var weighted = Sparsefinder.Extract(model, tokens[..6], batchSize: 4, withProbabilities: true);
        TestTensors.Close(TestTensors.ToArray(model.Forward(tokens[..6], withProbabilities: true).Probabilities![1]), TestTensors.ToArray(weighted[1].Probabilities!), 0, "kept probabilities");
        var window = Sparsefinder.Score(PatternPredictor.SlidingWindow(2), weighted[1].Queries, weighted[1].Keys, weighted[1]).Aggregate((a, b) => a + b);
        Assert.Equal(6 * 2 * 24, window.GoldMass, 9);                                         // sequences · heads · rows, each row sums to 1
        Assert.InRange(window.MassRecall, 1e-3, 1 - 1e-3);
        var all = Sparsefinder.Score(PatternPredictor.SlidingWindow(100), weighted[1].Queries, weighted[1].Keys, weighted[1]).Aggregate((a, b) => a + b);
        Assert.Equal(1.0, all.MassRecall, 9);

        var result = Sparsefinder.TrainProjections(layers, new ProjectionTrainingOptions { Epochs = 20, BatchSize = 4, LearningRate = 1e-2, Progress = null });
        Assert.Equal(20 * 6, result.Losses.Count);
        double start = result.Losses.Take(10).Average(), end = result.Losses.TakeLast(10).Average();
        Assert.True(end < 0.8 * start, $"margin loss {start:F3} → {end:F3}; expected to fall by > 20%");
    }

    [Fact]
    public void Bad_settings_are_named()
    {
        var q = TestTensors.Randn(71, 1, 1, 4, 2);
        Assert.Contains("threshold", Assert.Throws<ArgumentOutOfRangeException>(() => new DistancePredictor(0)).Message);
        Assert.Contains("buckets β = 1", Assert.Throws<ArgumentOutOfRangeException>(() => BucketPredictor.Fit(q, q, 1, BucketKind.Quantile)).Message);
        Assert.Contains("clusters = 9", Assert.Throws<ArgumentOutOfRangeException>(() => KMeansPredictor.Fit(q, q, 9)).Message);
        Assert.Contains("topClusters = 3", Assert.Throws<ArgumentOutOfRangeException>(() => KMeansPredictor.Fit(q, q, 2, topClusters: 3)).Message);
        Assert.Contains("window = -1", Assert.Throws<ArgumentOutOfRangeException>(() => new WithWindow(new DistancePredictor(1), -1)).Message);
        Assert.Contains("window = -2", Assert.Throws<ArgumentOutOfRangeException>(() => PatternPredictor.SlidingWindow(-2)).Message);
        Assert.Contains("rank r = 0", Assert.Throws<ArgumentOutOfRangeException>(() => new SparsefinderProjection(2, 8, rank: 0)).Message);
        Assert.Contains("margin", Assert.Throws<ArgumentOutOfRangeException>(() => SparsefinderProjection.MarginLoss(q, q, ones(1, 1, 4, 4, ScalarType.Bool), ones(1, 1, 4, 4, ScalarType.Bool), 0)).Message);
        Assert.Contains("even", Assert.Throws<ArgumentOutOfRangeException>(() => new LshPredictor(3)).Message);
        Assert.Contains("expected (1, 1, 4, 4)", Assert.Throws<ArgumentException>(() => new DistancePredictor(1).Predict(q, q, ones(1, 1, 4, 3, ScalarType.Bool))).Message);
    }

    [Fact]
    public void Distance_thresholds_cut_the_requested_share_of_pairs_and_timing_graphs_keep_what_they_say()
    {
        var data = new LayerAttention(TestTensors.Randn(81, 4, 2, 30, 3), TestTensors.Randn(82, 4, 2, 30, 3), zeros(4, 2, 30, 30, ScalarType.Bool), Causal(4, 2, 30));
        var thresholds = Sparsefinder.DistanceThresholds(data, null, [0.1, 0.5]);
        var counts = Sparsefinder.Score(new DistancePredictor(thresholds[1]), data.Queries, data.Keys, data).Aggregate((a, b) => a + b);
        Assert.InRange(1 - counts.Sparsity, 0.49, 0.51);
        Assert.True(thresholds[0] < thresholds[1]);

        var graph = Sparsefinder.RandomCausalGraph(40, 2, 0.8, seed: 3);
        var rows = graph.sum(-1).flatten().data<long>().ToArray();
        for (int i = 0; i < 40; i++) Assert.Equal(Math.Min(i + 1, 4), rows[i]);                 // ⌈0.2 · 40 / 2⌉ = 4 keys per query
        Assert.False(graph.logical_and(Causal(1, 2, 40).logical_not()).any().item<bool>());
    }
}
