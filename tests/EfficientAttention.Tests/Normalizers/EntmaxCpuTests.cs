namespace EfficientAttention.Tests;

/// <summary>The fused C# entmax kernels (exact 1.5-entmax and bisection) against the tensor-operation paths and the double-precision oracle.</summary>
public class EntmaxCpuTests
{
    private static Tensor Scores(ScalarType dtype, long rows, long n, double scale, int seed)
    {
        var s = randn(new long[] { rows, n }, dtype: ScalarType.Float64, generator: new Generator((ulong)seed)) * scale;
        s[0] = tensor(double.NegativeInfinity, ScalarType.Float64);                          // a dead row
        s[1, ..(int)(n / 2)] = tensor(double.NegativeInfinity, ScalarType.Float64);           // half masked
        return s.to(dtype);
    }

    [Theory]
    [InlineData(ScalarType.Float64, 7, 1.0)]
    [InlineData(ScalarType.Float64, 1024, 0.2)]      // flat scores: hundreds of candidates, a large support
    [InlineData(ScalarType.Float32, 33, 3.0)]        // not a multiple of the SIMD width
    [InlineData(ScalarType.Float32, 2048, 1.0)]      // long rows: the tensor path's partial sort
    [InlineData(ScalarType.Float32, 600, 0.05)]      // very flat: the support passes the tensor path's top-64
    public void The_fused_kernel_equals_the_tensor_path_and_the_oracle(ScalarType dtype, long n, double scale)
    {
        var s = Scores(dtype, 6, n, scale, seed: (int)n);
        Assert.True(EntmaxCpu.Supports(s, -1));
        var fused = EntmaxCpu.Forward15(s);
        var tensorPath = Entmax15Function.Kernel(s, 1);
        double tolerance = dtype == ScalarType.Float64 ? 1e-12 : 2e-6;
        Assert.True((fused - tensorPath).abs().max().to(ScalarType.Float64).item<double>() <= tolerance, $"max |fused − tensor| = {(fused - tensorPath).abs().max().to(ScalarType.Float64).item<double>():E2}");
        Assert.True(fused[0].eq(0).all().item<bool>(), "a row of −∞ gives zeros");
        for (int r = 1; r < 6; r++)
        {
            var row = s[r].to(ScalarType.Float64).data<double>().ToArray();
            var expected = Reference.Entmax15(row);
            var actual = fused[r].to(ScalarType.Float64).data<double>().ToArray();
            Assert.True(expected.Zip(actual).All(t => Math.Abs(t.First - t.Second) <= tolerance), $"row {r} differs from the oracle");
            Assert.Equal(expected.Count(x => x > 0), actual.Count(x => x > 0));                 // the same exact support
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_row_is_solved_once_however_the_rows_are_chunked_over_workers(int threads)
    {
        int before = get_num_threads();
        try
        {
            set_num_threads(threads);
            var s = Scores(ScalarType.Float64, 1001, 37, 1.0, seed: 11);             // 1001 rows: chunks that do not divide them
            var fused = EntmaxCpu.Forward15(s);
            Assert.True((fused - Entmax15Function.Kernel(s, 1)).abs().max().item<double>() <= 1e-12, "forward differs from the tensor path");
            var g = randn(new long[] { 1001, 37 }, dtype: ScalarType.Float64, generator: new Generator(12));
            var expected = EntmaxBackward.JacobianVectorProduct(fused.sqrt(), g, 1);
            Assert.True((EntmaxCpu.Backward(fused, g, 1.5) - expected).abs().max().item<double>() <= 1e-12, "backward differs from the closed form");
        }
        finally { set_num_threads(before); }
    }

    [Theory]
    [InlineData(ScalarType.Float64, 9)]
    [InlineData(ScalarType.Float32, 1000)]
    public void The_fused_backward_equals_the_closed_form_product(ScalarType dtype, long n)
    {
        var p = EntmaxCpu.Forward15(Scores(dtype, 5, n, 1.0, seed: 3));
        var g = randn(new long[] { 5, n }, dtype: ScalarType.Float64, generator: new Generator(4)).to(dtype);
        var fused = EntmaxCpu.Backward(p, g, 1.5);
        var expected = EntmaxBackward.JacobianVectorProduct(p.sqrt(), g, 1);
        Assert.True((fused - expected).abs().max().to(ScalarType.Float64).item<double>() <= (dtype == ScalarType.Float64 ? 1e-12 : 1e-5));
        Assert.True(fused[0].eq(0).all().item<bool>(), "no gradient through a dead row");
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1.5, 1024, 1.0)]
    [InlineData(ScalarType.Float64, 1.25, 40, 1.0)]      // exponent 4: the scalar power path
    [InlineData(ScalarType.Float64, 2.0, 300, 0.3)]      // sparsemax by bisection
    [InlineData(ScalarType.Float64, 3.0, 17, 2.0)]       // exponent ½
    [InlineData(ScalarType.Float32, 1.5, 2048, 1.0)]
    [InlineData(ScalarType.Float32, 1.25, 33, 3.0)]
    public void The_fused_bisection_equals_the_tensor_path_and_the_oracle(ScalarType dtype, double alpha, long n, double scale)
    {
        var s = Scores(dtype, 6, n, scale, seed: (int)n);
        var fused = EntmaxCpu.ForwardBisect(s, alpha, 50);
        var tensorPath = EntmaxBisectFunction.Kernel(s, 1, alpha, 50);
        double tolerance = dtype == ScalarType.Float64 ? (alpha == 3.0 ? 1e-6 : 1e-9) : (alpha == 3.0 ? 1e-4 : 2e-5);   // as the oracle tests: α > 2 amplifies τ's rounding
        double gap = (fused - tensorPath).abs().max().to(ScalarType.Float64).item<double>();
        Assert.True(gap <= tolerance, $"max |fused − tensor| = {gap:E2}");
        Assert.True(fused[0].eq(0).all().item<bool>(), "a row of −∞ gives zeros");
        for (int r = 1; r < 6; r++)
        {
            var expected = Reference.Entmax(s[r].to(ScalarType.Float64).data<double>().ToArray(), alpha);
            var actual = fused[r].to(ScalarType.Float64).data<double>().ToArray();
            double worst = expected.Zip(actual).Max(t => Math.Abs(t.First - t.Second));
            Assert.True(worst <= tolerance, $"row {r}: {worst:E2} from the oracle");
        }
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1.25)]
    [InlineData(ScalarType.Float64, 2.0)]
    [InlineData(ScalarType.Float32, 1.5)]
    public void The_fused_backward_uses_the_weights_p_to_the_two_minus_alpha(ScalarType dtype, double alpha)
    {
        var p = EntmaxCpu.ForwardBisect(Scores(dtype, 5, 70, 1.0, seed: 8), alpha, 50);
        var g = randn(new long[] { 5, 70 }, dtype: ScalarType.Float64, generator: new Generator(9)).to(dtype);
        var weights = where(p.gt(0), p.pow(2 - alpha), zeros_like(p));
        var expected = EntmaxBackward.JacobianVectorProduct(weights, g, 1);
        var gap = (EntmaxCpu.Backward(p, g, alpha) - expected).abs().max().to(ScalarType.Float64).item<double>();
        Assert.True(gap <= (dtype == ScalarType.Float64 ? 1e-12 : 1e-5), $"max gap {gap:E2}");
    }

    [Theory]
    [InlineData(ScalarType.Float32, 37, 37)]
    [InlineData(ScalarType.Float32, 50, 20)]          // rows past Lk see every key
    [InlineData(ScalarType.Float64, 9, 30)]
    public void Causal_rows_equal_masking_with_minus_infinity_bit_for_bit(ScalarType dtype, long lq, long lk)
    {
        var s = (randn(new long[] { 3, lq, lk }, dtype: ScalarType.Float64, generator: new Generator(21)) * 2).to(dtype);
        var masked = s.masked_fill(ones(lq, lk, ScalarType.Bool).triu(1), double.NegativeInfinity);
        var p = EntmaxCpu.Forward15(s, causal: true, out long support);                   // the future's scores are finite and unread
        Assert.True(p.eq(EntmaxCpu.Forward15(masked)).all().item<bool>(), "forward differs from the masked rows");
        Assert.Equal(p.gt(0).sum().item<long>(), support);
        var g = randn(new long[] { 3, lq, lk }, dtype: ScalarType.Float64, generator: new Generator(22)).to(dtype);
        Assert.True(EntmaxCpu.Backward(p, g, 1.5, causal: true).eq(EntmaxCpu.Backward(p, g, 1.5)).all().item<bool>(), "backward differs from the full rows");
    }

    [Fact]
    public void Other_layouts_take_the_tensor_path()
    {
        Assert.False(EntmaxCpu.Supports(randn(3, 4), 0));                                        // not the last dim
        Assert.False(EntmaxCpu.Supports(randn(3, 4).to(ScalarType.Float16), -1));
        Assert.True(EntmaxCpu.Supports(randn(3, 4).t(), -1));                                    // non-contiguous: copied first
        var t = randn(5, 6, dtype: ScalarType.Float64).t();
        Assert.True((Normalizers.Entmax15(t) - Entmax15Function.Kernel(t, 1)).abs().max().item<double>() < 1e-12);
    }

    [Fact]
    public void Newtons_threshold_equals_the_sorted_k_loop_on_hard_rows()
    {
        var random = new Random(5);
        double[][] rows =
        [
            [0.0],                                                                   // one candidate: τ = −1
            [0, 0, 0, 0],                                                            // ties: uniform
            [0, -1e-12, -0.5, -0.999999],                                            // a value a hair below the top
            Enumerable.Range(0, 500).Select(_ => -0.01 * random.NextDouble()).Append(0).ToArray(),   // flat: support ≈ all
            Enumerable.Range(0, 300).Select(_ => -random.NextDouble()).Append(0).ToArray(),
        ];
        foreach (var row in rows)
        {
            double newton = EntmaxCpu.Threshold(row.ToArray()), sorted = EntmaxCpu.SortedThreshold(row.ToArray());
            Assert.True(Math.Abs(newton - sorted) <= 1e-12, $"Newton {newton} vs sort {sorted} on {row.Length} values");
            Assert.Equal(1.0, row.Sum(a => Math.Pow(Math.Max(a - newton, 0), 2)), 10);        // p sums to one
        }
    }
}
