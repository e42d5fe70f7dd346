using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>The pieces of the official Sparsefinder code's configuration: per-query hinge, shared projection, rank-aligned top clusters, CLS/SEP tokens.</summary>
public class OfficialConfigurationTests
{
    [Fact]
    public void The_per_query_hinge_sums_a_querys_pairs_before_the_hinge_and_passes_finite_differences()
    {
        // one query at the origin; keys at squared distances 1, 1, 4, 9
        var q = zeros(new long[] { 1, 1, 1, 2 }, ScalarType.Float64);
        var k = tensor(new[] { 1.0, 0, 0, 1, 2, 0, 0, 3 }).view(1, 1, 4, 2);
        var valid = ones(new long[] { 1, 1, 1, 4 }, ScalarType.Bool);
        var nearGold = tensor(new[] { true, true, false, false }).view(1, 1, 1, 4);
        var farGold = nearGold.logical_not();
        Assert.Equal(0.0, SparsefinderProjection.MarginLoss(q, k, nearGold, valid, perQuery: true).item<double>(), 12);     // [1 + 2 − 13]₊
        Assert.Equal(12.0, SparsefinderProjection.MarginLoss(q, k, farGold, valid, perQuery: true).item<double>(), 12);     // [1 + 13 − 2]₊
        Assert.Equal(6.5, SparsefinderProjection.MarginLoss(q, k, farGold, valid).item<double>(), 12);                      // per pair: (4 + 9) / 2 either pairing

        var qs = TestTensors.Randn(71, 2, 2, 8, 3);
        var ks = TestTensors.Randn(72, 2, 2, 8, 3);
        var validAll = ones(new long[] { 2, 2, 8, 8 }, ScalarType.Bool);
        var gold = rand(new long[] { 2, 2, 8, 8 }, ScalarType.Float64, generator: new Generator(9)).lt(0.3);
        var check = GradCheck.Check(x => SparsefinderProjection.MarginLoss(x, ks, gold, validAll, 1.0, seed: 3, perQuery: true).view(1), qs);
        Assert.True(check.Passed, check.ToString());
        var checkK = GradCheck.Check(x => SparsefinderProjection.MarginLoss(qs, x, gold, validAll, 1.0, seed: 3, perQuery: true).view(1), ks);
        Assert.True(checkK.Passed, checkK.ToString());
    }

    [Fact]
    public void A_shared_projection_has_one_matrix_for_queries_and_keys_and_trains()
    {
        var shared = new SparsefinderProjection(2, 8, rank: 4, seed: 1, dtype: ScalarType.Float64, shared: true);
        Assert.Single(shared.parameters());
        Assert.Equal(2, new SparsefinderProjection(2, 8, rank: 4, seed: 1, dtype: ScalarType.Float64).parameters().Count());
        var x = TestTensors.Randn(5, 1, 2, 6, 8);
        var (qp, kp) = shared.call(x, x);
        Assert.True(qp.allclose(kp, 0, 0), "the same vectors project alike");
        Assert.True(ProjectionTrainingOptions.OfficialCode is { Shared: true, PerQueryLoss: true, Rank: 4, LearningRate: 1e-3, Epochs: 3, BatchSize: 32 });
    }

    [Fact]
    public void Rank_aligned_top_clusters_match_only_at_the_same_rank()
    {
        var centroids = tensor(new[] { 0.0, 1.0, 10.0 }).view(1, 3, 1);                   // one head, r = 1
        var q = tensor(new[] { 0.4 }).view(1, 1, 1, 1);                                       // ranks c0, c1
        var k = tensor(new[] { 0.6, 0.2, 9.0 }).view(1, 1, 3, 1);                             // ranks (c1, c0), (c0, c1), (c2, c1)
        var valid = ones(new long[] { 1, 1, 1, 3 }, ScalarType.Bool);
        var aligned = new KMeansPredictor(centroids, 2, rankAligned: true).Predict(q, k, valid).flatten().data<bool>().ToArray();
        var nearest = new KMeansPredictor(centroids, 2).Predict(q, k, valid).flatten().data<bool>().ToArray();
        Assert.Equal(new[] { false, true, true }, aligned);                                  // the third: both rank c1 second
        Assert.Equal(new[] { true, true, false }, nearest);                                  // the key's nearest among the query's top two
        Assert.EndsWith("top-2 aligned", new KMeansPredictor(centroids, 2, rankAligned: true).Name);
    }

    [Fact]
    public void CLS_and_SEP_are_global_the_last_real_token_found_per_row()
    {
        var padding = tensor(new[] { true, true, true, true, false }).view(1, 1, 1, 5);           // 4 real tokens, one pad
        var valid = padding.expand(1, 1, 5, 5).logical_and(tensor(new[] { true, true, true, true, false }).view(1, 1, 5, 1));
        var pairs = WithWindow.SpecialTokenPairs(valid).logical_and(valid);
        var expected = new bool[5, 5];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) expected[i, j] = i == 0 || i == 3 || j == 0 || j == 3;
        Assert.Equal(expected.Cast<bool>(), pairs.flatten().data<bool>().ToArray());
        var graph = new WithWindow(PatternPredictor.SlidingWindow(0), 0, specialTokens: true).Predict(zeros(1, 1, 5, 2), zeros(1, 1, 5, 2), valid);
        Assert.Equal(pairs.logical_or(eye(5, dtype: ScalarType.Bool)).logical_and(valid).flatten().data<bool>().ToArray(), graph.flatten().data<bool>().ToArray());
        Assert.EndsWith("+ CLS/SEP", new WithWindow(PatternPredictor.SlidingWindow(0), 5, specialTokens: true).Name);
    }
}
