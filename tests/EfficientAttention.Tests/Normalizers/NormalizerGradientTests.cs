using CsCheck;
using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>Float64 finite-difference checks of every hand-derived backward pass, and the dim/masking conventions.</summary>
public class NormalizerGradientTests
{
    public static TheoryData<string> SparseMaps => new() { "sparsemax", "entmax15", "entmax15-tensor-ops", "bisect-1.25", "bisect-1.5", "bisect-2", "bisect-3" };

    private static Func<Tensor, Tensor> Kernel(string map, long dim) => map switch
    {
        "sparsemax" => s => Normalizers.Sparsemax(s, dim),
        "entmax15" => s => Normalizers.Entmax15(s, dim),
        "entmax15-tensor-ops" => s => Normalizers.Entmax15TensorOps(s, dim),            // the same map, never the fused kernel
        _ => s => Normalizers.EntmaxBisect(s, double.Parse(map[7..], System.Globalization.CultureInfo.InvariantCulture), dim, iterations: 100),
    };

    [Theory, MemberData(nameof(SparseMaps))]
    public void Backward_matches_finite_differences(string map)
    {
        TestTensors.FiniteScores.Sample(z =>
        {
            var result = GradCheck.Check(Kernel(map, -1), TestTensors.Row(z).view(1, -1), eps: 1e-7, atol: 1e-6, rtol: 1e-4);
            Assert.True(result.Passed, $"{map} on [{string.Join(", ", z)}]: {result}");
        }, iter: 40, threads: 1);
    }

    [Theory, MemberData(nameof(SparseMaps))]
    public void Backward_matches_finite_differences_along_a_middle_dim_with_masked_scores(string map)
    {
        var x = TestTensors.Randn(7, 2, 5, 3) * 2;
        x[0, 1, 2] = tensor(double.NegativeInfinity);                                 // a −inf inside a slice along dim 1
        x[1, .., 0] = tensor(double.NegativeInfinity);                                // a whole slice of −inf along dim 1
        var result = GradCheck.Check(Kernel(map, 1), x, eps: 1e-7);
        Assert.True(result.Passed, $"{map}: {result}");
    }

    [Fact]
    public void Autograd_through_softmax_with_all_masked_rows_has_no_NaN()
    {
        var x = TestTensors.Randn(1, 3, 4);
        x[1] = tensor(double.NegativeInfinity);
        var result = GradCheck.Check(s => Normalizers.Softmax(s), x);
        Assert.True(result.Passed, result.ToString());
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("sparsemax")]
    [InlineData("entmax15")]
    [InlineData("bisect-1.5")]
    public void All_minus_infinity_slice_gives_zeros_and_zero_gradient(string map)
    {
        var x = full(new long[] { 2, 5 }, double.NegativeInfinity, ScalarType.Float32);
        x[0, 0] = tensor(1.0f);
        x = x.requires_grad_(true);
        var p = NormalizerOracleTests.Kernel(map)(x);
        (p * arange(10, dtype: ScalarType.Float32).view(2, 5)).sum().backward();
        Assert.Equal([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], TestTensors.ToArray(p));
        var grad = TestTensors.ToArray(x.grad!);
        Assert.All(grad, g => Assert.Equal(0.0, g));                                  // one-hot row: no sensitivity; dead row: none
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("sparsemax")]
    [InlineData("entmax15")]
    [InlineData("bisect-1.5")]
    public void Any_dim_equals_moving_that_dim_last(string map)
    {
        var kernel = NormalizerOracleTests.Kernel(map);
        var shapes = Gen.Int[1, 4].Array[1, 4];
        shapes.Select(Gen.Int[0, 3], Gen.Long[0, 1000]).Sample((shape, dimPick, seed) =>
        {
            long rank = shape.Length, dim = dimPick % rank - (seed % 2 == 0 ? 0 : rank);      // positive or negative dim
            var x = TestTensors.Randn(seed, shape.Select(s => (long)s).ToArray()) * 3;
            Func<Tensor, Tensor> alongDim = map switch
            {
                "softmax" => s => Normalizers.Softmax(s, dim),
                "sparsemax" => s => Normalizers.Sparsemax(s, dim),
                "entmax15" => s => Normalizers.Entmax15(s, dim),
        "entmax15-tensor-ops" => s => Normalizers.Entmax15TensorOps(s, dim),            // the same map, never the fused kernel
                _ => s => Normalizers.EntmaxBisect(s, 1.5, dim),
            };
            var expected = kernel(x.movedim([dim], [-1])).movedim([-1], [dim]);
            TestTensors.Close(TestTensors.ToArray(expected), TestTensors.ToArray(alongDim(x)), 1e-12, $"shape ({string.Join(",", shape)}) dim {dim}");
        }, iter: 60, threads: 1);
    }
}
