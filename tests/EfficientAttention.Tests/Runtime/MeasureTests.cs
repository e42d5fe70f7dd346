using EfficientAttention;

namespace EfficientAttention.Tests;

public class MeasureTests
{
    [Fact]
    public void Slopes_crossovers_and_medians_of_hand_made_curves()
    {
        double[] x = [256, 512, 1024, 2048];
        Assert.Equal(2.0, Measure.LogLogSlope(x, x.Select(v => 3 * v * v).ToArray()), 10);
        Assert.Equal(1.5, Measure.LogLogSlope(x, x.Select(v => Math.Pow(v, 1.5)).ToArray()), 10);
        // a = L^1.5, b = L²/32: equal at L = 1024, a below b afterwards
        double[] a = x.Select(v => Math.Pow(v, 1.5)).ToArray(), b = x.Select(v => v * v / 32).ToArray();
        Assert.Equal(1024, Measure.Crossover(x, a, b), 6);
        Assert.True(double.IsNaN(Measure.Crossover(x, b.Select(v => v * 100).ToArray(), b)));
        Assert.Equal(256, Measure.Crossover(x, b.Select(v => v / 2).ToArray(), b));
        Assert.Equal(2.5, Measure.Median([4, 1, 3, 2]));
        Assert.Throws<ArgumentException>(() => Measure.LogLogSlope([1.0], [2.0]));
    }

    [Fact]
    public void Peak_memory_sees_a_large_allocation_where_the_platform_reports_it()
    {
        double peak = Measure.PeakMemoryMiB(() => { var t = ones(64L * 1024 * 1024 / 4); t.add_(1); });   // 64 MiB
        if (double.IsNaN(peak)) return;                                                                    // not Linux: documented NaN
        Assert.InRange(peak, 48, 1024);
    }
}
