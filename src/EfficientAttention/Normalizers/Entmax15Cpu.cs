using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// 1.5-entmax along the last dimension of a CPU tensor as one fused C# loop per row, instead of the half-dozen
/// full-size tensor operations of <see cref="Entmax15Function.Kernel"/> (a profile of attention at L = 1024 found the
/// top-k search and the elementwise passes, each a fresh L² allocation, costing three times libtorch's softmax).
/// <para>
/// Per row z (n values): the maximum m; with a = (z − m)/2, the threshold satisfies τ ≥ max a − 1 = −1 (at τ = −1 the
/// largest term alone is 1), so only entries with a &gt; −1 can be in the support. Those candidates go to
/// <see cref="Threshold"/> (Newton steps on a shrinking set, finished by the closed form of Peters et al. 2019, Alg. 2,
/// in double precision), and p = [a − τ]₊² is written in one pass. The backward pass is the closed-form Jacobian–vector product
/// J g = w ⊙ (g − ⟨w, g⟩/Σw), w = √p, also one read and one write per entry. A row of −∞ gives zeros.
/// </para>
/// Used for contiguous float32/float64 CPU tensors along their last dimension (what attention passes); everything else
/// takes the tensor path. Rows are split over <c>torch.get_num_threads()</c> workers.
/// </summary>
internal static class Entmax15Cpu
{
    public static bool Supports(Tensor t, long dim) =>
        t.device_type == DeviceType.CPU && (t.dtype == ScalarType.Float32 || t.dtype == ScalarType.Float64)
        && (dim == -1 || dim == t.dim() - 1) && t.dim() >= 1 && t.shape[^1] > 0
        && t.numel() * t.element_size() <= int.MaxValue;

    public static Tensor Forward(Tensor scores)
    {
        var input = scores.contiguous();
        var output = empty_like(input);
        if (input.dtype == ScalarType.Float32) Rows(input, output, null, ForwardRow<float>);
        else Rows(input, output, null, ForwardRow<double>);
        return output;
    }

    /// <summary>Jᵀg at output p (J is symmetric).</summary>
    public static Tensor Backward(Tensor p, Tensor grad)
    {
        var pc = p.contiguous();
        var gc = grad.to(p.dtype).contiguous();
        var output = empty_like(pc);
        if (pc.dtype == ScalarType.Float32) Rows(pc, output, gc, BackwardRow<float>);
        else Rows(pc, output, gc, BackwardRow<double>);
        return output;
    }

    private delegate void RowKernel(Tensor input, Tensor output, Tensor? extra, long firstRow, long rows, int n);

    private static void Rows(Tensor input, Tensor output, Tensor? extra, RowKernel kernel)
    {
        int n = (int)input.shape[^1];
        long rows = input.numel() / n;
        int workers = (int)Math.Max(1, Math.Min(torch.get_num_threads(), rows));
        long chunk = (rows + workers - 1) / workers;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            long first = w * chunk, count = Math.Min(chunk, rows - first);
            if (count > 0) kernel(input, output, extra, first, count, n);
        });
    }

    private static Span<T> Data<T>(Tensor t) where T : unmanaged => MemoryMarshal.Cast<byte, T>(t.bytes);

    private static void ForwardRow<T>(Tensor input, Tensor output, Tensor? _, long firstRow, long rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var all = Data<T>(input);
        var outAll = Data<T>(output);
        var candidates = new double[Math.Min(n, 256)];
        for (long r = firstRow; r < firstRow + rows; r++)
        {
            var z = all.Slice((int)(r * n), n);
            var p = outAll.Slice((int)(r * n), n);
            T max = Max(z);
            if (T.IsNegativeInfinity(max)) { p.Clear(); continue; }
            double m = double.CreateTruncating(max);
            int count = 0;                                                  // candidates: a = (z − m)/2 > −1
            T floor = max - T.CreateTruncating(2.0);
            int width = Vector.IsHardwareAccelerated ? Vector<T>.Count : n + 1, start = 0;
            if (n >= width)
            {
                var lanes = MemoryMarshal.Cast<T, Vector<T>>(z);
                var vfloor = new Vector<T>(floor);
                for (int i = 0; i < lanes.Length; i++)
                    if (Vector.GreaterThanAny(lanes[i], vfloor))             // most lanes hold no candidate: skipped whole
                        for (int j = i * width; j < (i + 1) * width; j++) Collect(z[j]);
                start = lanes.Length * width;
            }
            for (int j = start; j < n; j++) Collect(z[j]);

            void Collect(T value)
            {
                if (value <= floor) return;
                if (count == candidates.Length) Array.Resize(ref candidates, Math.Min(n, candidates.Length * 2));
                candidates[count++] = (double.CreateTruncating(value) - m) / 2;
            }
            double tau = Threshold(candidates.AsSpan(0, count));
            Write(z, p, max, T.CreateTruncating(tau));
        }
    }

    /// <summary>
    /// τ from the candidates a (a row's values (z − m)/2 above −1; reordered in place). Newton's method on
    /// f(τ) = Σ [a − τ]₊² − 1 from τ = −1: f is convex and decreasing, so the iterates rise monotonically towards the root
    /// and never pass it, and every entry at or below an iterate can be dropped for good (it is outside the support).
    /// After each step the closed form over the kept set K, τ_K = μ − √((1 − |K|σ²)/|K|), is the answer as soon as it is
    /// consistent (τ_K ≥ the iterate and min K &gt; τ_K: then f(τ_K) = 0 exactly). A few passes over a shrinking set instead
    /// of a sort; where rounding stalls the iteration, the sort-based k-loop of <see cref="SortedThreshold"/> finishes.
    /// </summary>
    internal static double Threshold(Span<double> a)
    {
        double tau = -1;
        int count = a.Length;
        for (int iteration = 0; iteration < 64; iteration++)
        {
            int k = 0;
            double s1 = 0, s2 = 0, min = double.PositiveInfinity;
            for (int i = 0; i < count; i++)
            {
                double x = a[i];
                if (!(x > tau)) continue;
                a[k++] = x;
                s1 += x;
                s2 += x * x;
                if (x < min) min = x;
            }
            count = k;
            if (k == 0) return double.NaN;                                   // only for NaN input
            double mean = s1 / k, closed = mean - Math.Sqrt(Math.Max((1 - k * (s2 / k - mean * mean)) / k, 0));
            if (closed >= tau && min > closed) return closed;
            double f = s2 - 2 * tau * s1 + k * tau * tau - 1, slope = 2 * (s1 - k * tau);
            double next = tau + f / slope;
            if (!(next > tau)) break;                                        // rounding: finish by sorting the few left
            tau = next;
        }
        return SortedThreshold(a[..count]);
    }

    /// <summary>τ by the k-loop over the values sorted descending (the tensor path's formulas; the fallback).</summary>
    internal static double SortedThreshold(Span<double> a)
    {
        a.Sort();
        a.Reverse();
        double s1 = 0, s2 = 0;
        int support = 0;
        Span<double> taus = a.Length <= 256 ? stackalloc double[a.Length] : new double[a.Length];
        for (int k = 1; k <= a.Length; k++)
        {
            s1 += a[k - 1];
            s2 += a[k - 1] * a[k - 1];
            double mean = s1 / k, ss = k * (s2 / k - mean * mean);
            taus[k - 1] = mean - Math.Sqrt(Math.Max((1 - ss) / k, 0));
            if (taus[k - 1] <= a[k - 1]) support++;
        }
        return support == 0 ? double.NaN : taus[support - 1];                  // 0 only for NaN input
    }

    private static T Max<T>(Span<T> z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        T max = T.NegativeInfinity;
        if (Vector.IsHardwareAccelerated && z.Length >= Vector<T>.Count)
        {
            var best = new Vector<T>(T.NegativeInfinity);
            var lanes = MemoryMarshal.Cast<T, Vector<T>>(z);
            foreach (var lane in lanes) best = Vector.Max(best, lane);
            for (int i = 0; i < Vector<T>.Count; i++) max = T.Max(max, best[i]);
            j = lanes.Length * Vector<T>.Count;
        }
        for (; j < z.Length; j++) max = T.Max(max, z[j]);
        return max;
    }

    /// <summary>p = [(z − m)/2 − τ]₊².</summary>
    private static void Write<T>(Span<T> z, Span<T> p, T m, T tau) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        int j = 0;
        if (Vector.IsHardwareAccelerated && z.Length >= Vector<T>.Count)
        {
            var zl = MemoryMarshal.Cast<T, Vector<T>>(z);
            var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
            Vector<T> vm = new(m), vt = new(tau), vh = new(half);
            for (int i = 0; i < zl.Length; i++)
            {
                var d = Vector.Max((zl[i] - vm) * vh - vt, Vector<T>.Zero);
                pl[i] = d * d;
            }
            j = zl.Length * Vector<T>.Count;
        }
        for (; j < z.Length; j++)
        {
            T d = T.Max((z[j] - m) * half - tau, T.Zero);
            p[j] = d * d;
        }
    }

    private static void BackwardRow<T>(Tensor pTensor, Tensor output, Tensor? grad, long firstRow, long rows, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pAll = Data<T>(pTensor);
        var gAll = Data<T>(grad!);
        var outAll = Data<T>(output);
        for (long r = firstRow; r < firstRow + rows; r++)
        {
            var p = pAll.Slice((int)(r * n), n);
            var g = gAll.Slice((int)(r * n), n);
            var o = outAll.Slice((int)(r * n), n);
            T wg = T.Zero, w = T.Zero;                                      // ⟨w, g⟩ and Σw, w = √p
            int j = 0;
            if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
            {
                var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
                var gl = MemoryMarshal.Cast<T, Vector<T>>(g);
                Vector<T> swg = Vector<T>.Zero, sw = Vector<T>.Zero;
                for (int i = 0; i < pl.Length; i++) { var s = Vector.SquareRoot(pl[i]); swg += s * gl[i]; sw += s; }
                wg = Vector.Sum(swg);
                w = Vector.Sum(sw);
                j = pl.Length * Vector<T>.Count;
            }
            for (int k = j; k < n; k++) { T s = T.Sqrt(p[k]); wg += s * g[k]; w += s; }
            T q = w == T.Zero ? T.Zero : wg / w;
            j = 0;
            if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
            {
                var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
                var gl = MemoryMarshal.Cast<T, Vector<T>>(g);
                var ol = MemoryMarshal.Cast<T, Vector<T>>(o);
                var vq = new Vector<T>(q);
                for (int i = 0; i < pl.Length; i++) ol[i] = Vector.SquareRoot(pl[i]) * (gl[i] - vq);
                j = pl.Length * Vector<T>.Count;
            }
            for (; j < n; j++) o[j] = T.Sqrt(p[j]) * (g[j] - q);
        }
    }
}
