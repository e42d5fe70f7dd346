namespace EfficientAttention.Tests;

public class ClusterLayoutTests
{
    private static (KMeansPredictor Predictor, Tensor Q, Tensor K) Setup(int clusters, int top, long length, int seed)
    {
        var g = new Generator((ulong)seed);
        var q = randn(new long[] { 2, 3, length, 4 }, generator: g);
        var k = randn(new long[] { 2, 3, length, 4 }, generator: g);
        return (KMeansPredictor.Fit(q, k, clusters, topClusters: top, seed: seed), q, k);
    }

    [Theory]
    [InlineData(4, 1, 40, true, -1)]
    [InlineData(6, 2, 33, true, 3)]
    [InlineData(3, 1, 25, false, 2)]
    [InlineData(5, 5, 16, true, -1)]         // every cluster: the layout is the whole causal triangle
    public void The_layout_is_the_graph_the_predictor_would_build(int clusters, int top, long length, bool causal, int window)
    {
        var (predictor, q, k) = Setup(clusters, top, length, seed: clusters + top);
        var layout = ClusterLayout.Build(predictor, q, k, causal, window);
        var valid = AttentionGraph.Valid(causal ? AttentionMask.CausalOnly : new AttentionMask(), 2, 3, length, length, CPU);
        IGraphPredictor reference = window >= 0 ? new WithWindow(predictor, window) : predictor;
        var expected = reference.Predict(q, k, valid);
        Assert.True(layout.ToGraph().eq(expected).all().item<bool>(), "layout → graph differs from the predictor's graph");
        var presentKeys = layout.Indices.masked_select(layout.Present).numel();
        Assert.Equal(expected.sum().item<long>(), presentKeys);                    // no key listed twice for a query
    }

    [Fact]
    public void Routed_entmax_over_the_layout_equals_routed_entmax_over_the_graph()
    {
        var (predictor, q, k) = Setup(4, 2, 48, seed: 7);
        var v = randn(2, 3, 48, 5);
        var layout = ClusterLayout.Build(predictor, q, k, causal: true, window: 2);
        var viaGraph = RoutedLayout.FromGraph(layout.ToGraph());
        var direct = RoutedEntmax.Attend(q, k, v, layout);
        Assert.True((direct - RoutedEntmax.Attend(q, k, v, viaGraph)).abs().max().item<float>() < 1e-5);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Clustered_entmax_equals_routed_entmax_over_the_same_graph_with_gradients(bool causal)
    {
        var (predictor, qp, kp) = Setup(5, 1, 37, seed: 11);
        var g = new Generator(12);
        var q = randn(new long[] { 2, 3, 37, 8 }, dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        var k = randn(new long[] { 2, 3, 37, 8 }, dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        var v = randn(new long[] { 2, 3, 37, 6 }, dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        var clustered = ClusteredEntmax.Attend(q, k, v, predictor, qp, kp, causal);
        var routed = RoutedEntmax.Attend(q, k, v, ClusterLayout.Build(predictor, qp, k: kp, causal: causal));
        Assert.True((clustered - routed).abs().max().item<double>() < 1e-12, "outputs differ");
        var w = randn(clustered.shape, dtype: ScalarType.Float64, generator: g);
        var gradClustered = torch.autograd.grad([(clustered * w).sum()], [q, k, v]);
        var gradRouted = torch.autograd.grad([(routed * w).sum()], [q, k, v]);
        for (int i = 0; i < 3; i++)
            Assert.True((gradClustered[i] - gradRouted[i]).abs().max().item<double>() < 1e-12, $"gradient {i} differs");
        Assert.Throws<ArgumentException>(() => ClusteredEntmax.Attend(q, k, v, KMeansPredictor.Fit(qp, kp, 4, topClusters: 2), qp, kp, causal));
    }
}
