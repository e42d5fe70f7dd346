namespace EfficientAttention;

/// <summary>
/// Double-precision oracles in plain C# (no TorchSharp), one row at a time, written for reading. Where the TorchSharp
/// kernel uses an algorithm, the oracle uses a different one, so that agreement means something:
/// sparsemax and 1.5-entmax locate τ by bisection and then solve for it exactly on the support (the kernels sort);
/// α-entmax walks the sorted breakpoints to find the exact support, then bisects in double to the last bit on that
/// support alone (the kernel runs a fixed number of bisection steps over the whole row and renormalises).
/// <c>-inf</c> scores never enter the support; a row of only <c>-inf</c> gives zeros.
/// </summary>
public static class Reference
{
    /// <summary>softmax(z)_i = exp(z_i − max z) / Σ_j exp(z_j − max z).</summary>
    public static double[] Softmax(double[] z)
    {
        double max = z.Max();
        if (double.IsNegativeInfinity(max)) return new double[z.Length];
        var e = z.Select(x => Math.Exp(x - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    /// <summary>sparsemax(z)_i = [z_i − τ]₊ with Σ [z_i − τ]₊ = 1.</summary>
    public static double[] Sparsemax(double[] z) => Entmax(z, 2.0, SparsemaxThreshold(z));

    /// <summary>1.5-entmax(z)_i = [z_i/2 − τ]₊² with Σ = 1.</summary>
    public static double[] Entmax15(double[] z) => Entmax(z, 1.5, Entmax15Threshold(z));

    /// <summary>α-entmax(z)_i = [(α−1) z_i − τ]₊^{1/(α−1)} with Σ = 1, for α &gt; 1.</summary>
    public static double[] Entmax(double[] z, double alpha)
    {
        if (!(alpha > 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "expected α > 1");
        return Entmax(z, alpha, EntmaxThreshold(z, alpha));
    }

    /// <summary>p_i = [(α−1) z_i − τ]₊^{1/(α−1)} for a given threshold τ (zeros when τ is NaN: an all −inf row).</summary>
    public static double[] Entmax(double[] z, double alpha, double tau)
    {
        if (double.IsNaN(tau)) return new double[z.Length];
        return z.Select(x => Math.Pow(Math.Max((alpha - 1) * x - tau, 0), 1 / (alpha - 1))).ToArray();
    }

    /// <summary>τ of sparsemax: bisection brackets it, then on the support S, τ = (Σ_S z − 1) / |S|.</summary>
    public static double SparsemaxThreshold(double[] z)
    {
        var a = Finite(z);
        if (a.Length == 0) return double.NaN;
        double tau = Bisect(t => a.Sum(x => Math.Max(x - t, 0)) - 1, a.Max() - 1, a.Max());
        var support = a.Where(x => x > tau).ToArray();
        return (support.Sum() - 1) / support.Length;
    }

    /// <summary>
    /// τ of 1.5-entmax over a = z/2: bisection brackets it, then on the support S (k entries) Σ_S (a_i − τ)² = 1 is the
    /// quadratic k τ² − 2 τ Σa + Σa² − 1 = 0, whose smaller root is τ.
    /// </summary>
    public static double Entmax15Threshold(double[] z)
    {
        var a = Finite(z).Select(x => x / 2).ToArray();
        if (a.Length == 0) return double.NaN;
        double tau = Bisect(t => a.Sum(x => Math.Pow(Math.Max(x - t, 0), 2)) - 1, a.Max() - 1, a.Max());
        var s = a.Where(x => x > tau).ToArray();
        double k = s.Length, sum = s.Sum(), sumSq = s.Sum(x => x * x);
        return (sum - Math.Sqrt(Math.Max(sum * sum - k * (sumSq - 1), 0))) / k;
    }

    /// <summary>
    /// τ of α-entmax over a = (α−1) z: with a sorted descending, g(τ) = Σ [a_i − τ]₊^{1/(α−1)} − 1 is decreasing and
    /// g(a₍₁₎) = −1; walk the breakpoints to the first k with g(a₍ₖ₊₁₎) ≥ 0, so the support is the top k and
    /// τ ∈ [max(a₍ₖ₊₁₎, a₍₁₎ − 1), a₍ₖ₎]; on that bracket g is smooth, and bisection finds its root to the last bit.
    /// </summary>
    public static double EntmaxThreshold(double[] z, double alpha)
    {
        var a = Finite(z).Select(x => (alpha - 1) * x).OrderByDescending(x => x).ToArray();
        if (a.Length == 0) return double.NaN;
        double beta = 1 / (alpha - 1);
        int k = 1;
        while (k < a.Length && TopSum(a, k, a[k], beta) < 1) k++;
        double lo = Math.Max(k < a.Length ? a[k] : double.NegativeInfinity, a[0] - 1), hi = a[k - 1];
        return Bisect(t => TopSum(a, k, t, beta) - 1, lo, hi);
    }

    /// <summary>
    /// Attention for one head: P = normalize(q kᵀ / √d) row by row, with disallowed pairs set to −inf, and P v.
    /// q (Lq × d), k (Lk × d), v (Lk × dᵥ), allowed (Lq × Lk) or null.
    /// </summary>
    public static (double[,] Output, double[,] Probabilities) Attention(double[,] q, double[,] k, double[,] v, bool[,]? allowed, Func<double[], double[]> normalize)
    {
        int lq = q.GetLength(0), lk = k.GetLength(0), d = q.GetLength(1), dv = v.GetLength(1);
        var p = new double[lq, lk];
        var output = new double[lq, dv];
        for (int i = 0; i < lq; i++)
        {
            var scores = new double[lk];
            for (int j = 0; j < lk; j++)
            {
                double dot = 0;
                for (int c = 0; c < d; c++) dot += q[i, c] * k[j, c];
                scores[j] = allowed is null || allowed[i, j] ? dot / Math.Sqrt(d) : double.NegativeInfinity;
            }
            var row = normalize(scores);
            for (int j = 0; j < lk; j++)
            {
                p[i, j] = row[j];
                for (int c = 0; c < dv; c++) output[i, c] += row[j] * v[j, c];
            }
        }
        return (output, p);
    }

    private static double[] Finite(double[] z) => z.Where(x => !double.IsNegativeInfinity(x)).ToArray();

    private static double TopSum(double[] sortedDescending, int k, double tau, double beta)
        => sortedDescending.Take(k).Sum(x => Math.Pow(Math.Max(x - tau, 0), beta));

    /// <summary>The root of a decreasing f on [lo, hi] with f(lo) ≥ 0 ≥ f(hi), to the last bit.</summary>
    private static double Bisect(Func<double, double> f, double lo, double hi)
    {
        for (int i = 0; i < 2000 && hi - lo > 0; i++)
        {
            double mid = lo + (hi - lo) / 2;
            if (mid <= lo || mid >= hi) break;
            if (f(mid) >= 0) lo = mid; else hi = mid;
        }
        return lo + (hi - lo) / 2;
    }
}
