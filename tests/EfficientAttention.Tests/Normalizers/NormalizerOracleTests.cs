using CsCheck;
using EfficientAttention;

namespace EfficientAttention.Tests;

/// <summary>The TorchSharp kernels against the double-precision oracles of <see cref="Reference"/>, over random rows.</summary>
public class NormalizerOracleTests
{
    public static TheoryData<string> Maps => new() { "softmax", "sparsemax", "entmax15", "bisect-1.25", "bisect-1.5", "bisect-2", "bisect-3" };

    internal static Func<Tensor, Tensor> Kernel(string name) => name switch
    {
        "softmax" => s => Normalizers.Softmax(s),
        "sparsemax" => s => Normalizers.Sparsemax(s),
        "entmax15" => s => Normalizers.Entmax15(s),
        _ => s => Normalizers.EntmaxBisect(s, double.Parse(name[7..], System.Globalization.CultureInfo.InvariantCulture)),
    };

    internal static Func<double[], double[]> Oracle(string name) => name switch
    {
        "softmax" => Reference.Softmax,
        "sparsemax" => Reference.Sparsemax,
        "entmax15" => Reference.Entmax15,
        _ => z => Reference.Entmax(z, double.Parse(name[7..], System.Globalization.CultureInfo.InvariantCulture)),
    };

    // For α > 2, p ∝ [·]₊^{1/(α−1)} has infinite slope where an entry leaves the support, so a rounding of 1e-16 in τ
    // becomes ~1e-8 in p near ties; α ≤ 2 maps are Lipschitz and agree to 1e-9.
    // In float32 the same amplification turns τ's rounding (~1e-7 · |τ|) into ~1e-5 for small entries near the boundary.
    private static double Float64Tolerance(string map) => map == "bisect-3" ? 1e-6 : 1e-9;
    private static double Float32Tolerance(string map) => map == "bisect-3" ? 1e-4 : 2e-5;

    [Theory, MemberData(nameof(Maps))]
    public void Float64_kernel_matches_the_reference(string map)
    {
        TestTensors.Scores.Sample(z =>
            TestTensors.Close(Oracle(map)(z), TestTensors.ToArray(Kernel(map)(TestTensors.Row(z))), Float64Tolerance(map), map), iter: 300, threads: 1);
    }

    [Theory, MemberData(nameof(Maps))]
    public void Float32_kernel_matches_the_reference(string map)
    {
        TestTensors.Scores.Sample(z =>
            TestTensors.Close(Oracle(map)(z), TestTensors.ToArray(Kernel(map)(TestTensors.Row(z, ScalarType.Float32))), Float32Tolerance(map), map), iter: 200, threads: 1);
    }

    [Theory, MemberData(nameof(Maps))]
    public void Output_lies_on_the_simplex(string map)
    {
        TestTensors.Scores.Sample(z =>
        {
            var p = TestTensors.ToArray(Kernel(map)(TestTensors.Row(z)));
            Assert.All(p, x => Assert.True(x >= 0, $"negative probability {x}"));
            Assert.Equal(1.0, p.Sum(), Float64Tolerance(map));
        }, iter: 200, threads: 1);
    }

    [Theory, MemberData(nameof(Maps))]
    public void Minus_infinity_scores_get_exactly_zero(string map)
    {
        TestTensors.Scores.Sample(z =>
        {
            var p = TestTensors.ToArray(Kernel(map)(TestTensors.Row(z)));
            for (int i = 0; i < z.Length; i++)
                if (double.IsNegativeInfinity(z[i])) Assert.Equal(0.0, p[i]);
        }, iter: 100, threads: 1);
    }

    [Theory]
    [InlineData("sparsemax", 2.0)]
    [InlineData("entmax15", 1.5)]
    [InlineData("bisect-1.5", 1.5)]
    [InlineData("bisect-2", 2.0)]
    public void Support_is_exactly_the_oracles_support(string map, double alpha)
    {
        // Sparse maps give exact zeros: every entry clearly below the oracle's threshold, (α−1)z_i < τ − 1e-7, is exactly
        // 0 in the kernel, and every entry clearly above it is positive (entries within 1e-7 of τ are ties either way).
        TestTensors.Scores.Sample(z =>
        {
            double tau = Reference.EntmaxThreshold(z, alpha);
            var p = TestTensors.ToArray(Kernel(map)(TestTensors.Row(z)));
            for (int i = 0; i < z.Length; i++)
            {
                double a = (alpha - 1) * z[i];
                if (a < tau - 1e-7) Assert.True(p[i] == 0, $"entry {i}: a = {a}, τ = {tau}, p = {p[i]} should be exactly 0");
                if (a > tau + 1e-7) Assert.True(p[i] > 0, $"entry {i}: a = {a}, τ = {tau}, p = {p[i]} should be positive");
            }
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Sparsemax_satisfies_its_KKT_conditions()
    {
        // p = Π_Δ(z) ⇔ ∃τ: p_i = z_i − τ where p_i > 0, and z_i ≤ τ where p_i = 0; Σp = 1, p ≥ 0.
        TestTensors.Scores.Sample(z =>
        {
            var p = TestTensors.ToArray(Normalizers.Sparsemax(TestTensors.Row(z)));
            var support = Enumerable.Range(0, z.Length).Where(i => p[i] > 0).ToArray();
            Assert.NotEmpty(support);
            double tau = z[support[0]] - p[support[0]];
            foreach (var i in support) Assert.Equal(tau, z[i] - p[i], 1e-9);
            for (int i = 0; i < z.Length; i++)
                if (p[i] == 0) Assert.True(z[i] <= tau + 1e-9, $"z[{i}] = {z[i]} > τ = {tau} outside the support");
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Entmax_tends_to_softmax_as_alpha_tends_to_one()
    {
        var z = TestTensors.Randn(3, 5, 17);
        var softmax = TestTensors.ToArray(Normalizers.Softmax(z));
        var errors = new[] { 1.2, 1.05, 1.01, 1.001 }
            .Select(alpha => TestTensors.MaxAbsDiff(softmax, TestTensors.ToArray(Normalizers.EntmaxBisect(z, alpha, iterations: 80)))).ToArray();
        for (int i = 1; i < errors.Length; i++) Assert.True(errors[i] < errors[i - 1], $"error does not shrink: {string.Join(", ", errors)}");
        Assert.True(errors[^1] < 1e-3, $"α = 1.001 is {errors[^1]} away from softmax");
    }

    [Fact]
    public void Entmax_bisection_at_alpha_two_is_sparsemax_and_at_one_and_a_half_is_entmax15()
    {
        var z = TestTensors.Randn(4, 6, 33) * 3;
        TestTensors.Close(TestTensors.ToArray(Normalizers.Sparsemax(z)), TestTensors.ToArray(Normalizers.EntmaxBisect(z, 2.0)), 1e-12, "α = 2");
        TestTensors.Close(TestTensors.ToArray(Normalizers.Entmax15(z)), TestTensors.ToArray(Normalizers.EntmaxBisect(z, 1.5)), 1e-12, "α = 1.5");
    }

    [Fact]
    public void Reference_oracles_agree_with_each_other()
    {
        // Three different algorithms for the same maps: closed form on a bisected support vs breakpoint + Newton.
        TestTensors.Scores.Sample(z =>
        {
            TestTensors.Close(Reference.Sparsemax(z), Reference.Entmax(z, 2.0), 1e-12, "sparsemax");
            TestTensors.Close(Reference.Entmax15(z), Reference.Entmax(z, 1.5), 1e-12, "entmax15");
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void A_hand_checked_example()
    {
        // z = (1, 0.5, −1): sparsemax τ = (1 + 0.5 − 1)/2 = 0.25 → (0.75, 0.25, 0).
        TestTensors.Close([0.75, 0.25, 0], TestTensors.ToArray(Normalizers.Sparsemax(TestTensors.Row([1, 0.5, -1]))), 1e-15, "sparsemax");
        // 1.5-entmax of (2, 0, 0): a = (1, 0, 0); support {1} gives τ = 0, and (0 − 0)₊² = 0 → one-hot.
        TestTensors.Close([1, 0, 0], TestTensors.ToArray(Normalizers.Entmax15(TestTensors.Row([2, 0, 0]))), 1e-15, "entmax15");
    }
}

public class Entmax15PartialSortTests
{
    [Theory]
    [InlineData(0.5, 1, 63)]      // small supports: resolved from the top 64
    [InlineData(0.22, 65, 255)]   // resolved on the retry with the top 256
    [InlineData(0.02, 257, 600)]  // scores nearly flat: the full-sort fallback
    public void Long_rows_match_the_oracle_whichever_path_finds_the_threshold(double spread, int minSupport, int maxSupport)
    {
        var z = TestTensors.Randn(5, 3, 7, 600).mul(spread);
        z[0, 0, ..300] = full(300, double.NegativeInfinity, ScalarType.Float64);     // masked keys in one row
        z[1, 2] = full(600, double.NegativeInfinity, ScalarType.Float64);            // a fully masked row
        foreach (var dim in new long[] { -1, 1 })
        {
            var x = dim == 1 ? z.transpose(1, 2).contiguous() : z;
            var p = Normalizers.Entmax15(x, dim);
            var rows = (dim == 1 ? p.transpose(1, 2) : p).reshape(-1, 600);
            var inputs = z.reshape(-1, 600);
            for (long r = 0; r < rows.shape[0]; r++)
            {
                var row = TestTensors.ToArray(inputs[r]);
                var expected = row.All(double.IsNegativeInfinity) ? new double[600] : Reference.Entmax15(row);
                TestTensors.Close(expected, TestTensors.ToArray(rows[r]), 1e-10, $"spread {spread}, dim {dim}, row {r}");
            }
        }
        long support = Normalizers.Entmax15(z).gt(0).sum(-1).max().item<long>();
        Assert.InRange(support, minSupport, maxSupport);                           // the case exercises its path
    }
}
