using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// α-entmax along the last dimension of a CPU tensor as one fused C# loop per row, instead of the half-dozen (1.5-entmax)
/// or 50 × 4 (bisection) full-size tensor operations of the tensor paths, each a fresh L² allocation.
/// <para>
/// Per row z (n values): the maximum m; with a = (α − 1)(z − m), the threshold satisfies τ ≥ max a − 1 = −1 (at τ = −1
/// the largest term alone is 1), so only entries with a &gt; −1 can be in the support. Those candidates — a few dozen
/// of a row of thousands for attention scores — are gathered once, τ is found on them alone, and p = [a − τ]₊^{1/(α−1)}
/// is written in one pass. For α = 1.5, τ comes from <see cref="Threshold"/> (Newton steps finished by the closed form of
/// Peters et al. 2019, Alg. 2, in double precision); for any α, <see cref="Bisect"/> halves the same bracket as the
/// tensor path (<see cref="EntmaxBisectFunction.Kernel"/>), on the candidates only. The backward pass is the closed-form
/// Jacobian–vector product J g = w ⊙ (g − ⟨w, g⟩/Σw), w = p^{2−α} on the support, one read and one write per entry.
/// A row of −∞ gives zeros.
/// </para>
/// <para>
/// <c>causal</c>: each (Lq, Lk) slice is read as causally masked (top-left, as <see cref="AttentionMask.Causal"/>): row i
/// solves over its keys j ≤ i only and writes 0 past them, so the scores need no −∞ mask and the keys past the diagonal
/// are never read. Same numbers, bit for bit, as masking with −∞ first: the candidates, their order and every SIMD sum
/// are unchanged (the backward pass still runs to the end of the SIMD lane holding the diagonal, where p is 0).
/// </para>
/// Used for contiguous float32/float64 CPU tensors along their last dimension (what attention passes); everything else
/// takes the tensor paths. Rows are split over <c>torch.get_num_threads()</c> workers. The row kernels are compiled
/// fully optimised at first call (<see cref="MethodImplOptions.AggressiveOptimization"/>): each is entered once per worker
/// per call, too few times for tiered compilation to promote it.
/// </summary>
internal static class EntmaxCpu
{
    public static bool Supports(Tensor t, long dim) =>
        t.device_type == DeviceType.CPU && (t.dtype == ScalarType.Float32 || t.dtype == ScalarType.Float64)
        && (dim == -1 || dim == t.dim() - 1) && t.dim() >= 1 && t.shape[^1] > 0
        && t.numel() * t.element_size() <= int.MaxValue;

    /// <summary>Exact 1.5-entmax of each row (of each row's causal prefix when <paramref name="causal"/>).</summary>
    public static Tensor Forward15(Tensor scores, bool causal = false) => Map(scores, new RowSolver(1.5, 0), causal, countSupport: false, out _);

    /// <summary>The same, and the number of nonzero entries written (<paramref name="support"/>, over every row).</summary>
    public static Tensor Forward15(Tensor scores, bool causal, out long support) => Map(scores, new RowSolver(1.5, 0), causal, countSupport: true, out support);

    /// <summary>α-entmax of each row by <paramref name="iterations"/> bisection steps on τ, then renormalisation.</summary>
    public static Tensor ForwardBisect(Tensor scores, double alpha, int iterations) => Map(scores, new RowSolver(alpha, iterations), causal: false, countSupport: false, out _);

    /// <summary>Jᵀg at output p (J is symmetric), weights p^{2−α} on the support; 0 past the diagonal when <paramref name="causal"/>.</summary>
    public static Tensor Backward(Tensor p, Tensor grad, double alpha, bool causal = false)
    {
        var pc = p.contiguous();
        var gc = grad.to(p.dtype).contiguous();
        var output = empty_like(pc);
        if (pc.dtype == ScalarType.Float32) Rows(pc, output, causal, (i, o, rows, n) => BackwardRows<float>(i, gc, o, rows, n, alpha));
        else Rows(pc, output, causal, (i, o, rows, n) => BackwardRows<double>(i, gc, o, rows, n, alpha));
        return output;
    }

    /// <summary>How τ is found: the exact 1.5-entmax solver (<see cref="Iterations"/> = 0) or bisection.</summary>
    private readonly record struct RowSolver(double Alpha, int Iterations);

    private static Tensor Map(Tensor scores, RowSolver solver, bool causal, bool countSupport, out long support)
    {
        var input = scores.contiguous();
        var output = empty_like(input);
        support = input.dtype == ScalarType.Float32
            ? Rows(input, output, causal, (i, o, rows, n) => ForwardRows<float>(i, o, rows, n, solver, countSupport))
            : Rows(input, output, causal, (i, o, rows, n) => ForwardRows<double>(i, o, rows, n, solver, countSupport));
        return output;
    }

    /// <summary>
    /// Rows <see cref="First"/> … <see cref="First"/> + <see cref="Count"/> − 1 of the flattened tensor; <see cref="Queries"/>
    /// is Lq when they are causal (row r is query r mod Lq and keeps keys 0 … that query), 0 when every key counts.
    /// </summary>
    private readonly record struct RowRange(long First, long Count, long Queries)
    {
        /// <summary>How many leading entries of row <paramref name="r"/> (of <paramref name="n"/>) are its keys.</summary>
        public int Keys(long r, int n) => Queries == 0 ? n : (int)Math.Min(r % Queries + 1, n);
    }

    /// <summary>Works rows <paramref name="rows"/>; returns what they count (the forward, when asked: nonzeros written; else 0).</summary>
    private delegate long RowKernel(Tensor input, Tensor output, RowRange rows, int n);

    /// <summary>
    /// Runs <paramref name="kernel"/> over every row, in <see cref="ChunksPerWorker"/> chunks per worker taken as workers
    /// come free (the calling thread is one of them). Equal static halves would leave the call as slow as its slowest
    /// worker, and a worker is often slowed: libtorch's OpenMP threads spin on their cores for a while after each parallel
    /// operation (the matmul just before this), so a thread-pool worker can share its core with one. Small chunks let
    /// the worker that runs at full speed take the rest.
    /// </summary>
    private static long Rows(Tensor input, Tensor output, bool causal, RowKernel kernel)
    {
        if (causal && input.dim() < 2)
            throw new ArgumentException($"scores have shape {Guard.Shape(input)}; a causal map needs (…, Lq, Lk).", "scores");
        int n = (int)input.shape[^1];
        long rows = input.numel() / n, queries = causal ? input.shape[^2] : 0;
        int workers = (int)Math.Max(1, Math.Min(torch.get_num_threads(), rows));
        if (workers == 1) return kernel(input, output, new(0, rows, queries), n);
        long chunks = Math.Min(rows, (long)workers * ChunksPerWorker), chunk = (rows + chunks - 1) / chunks, total = 0;
        Parallel.For(0, (rows + chunk - 1) / chunk, new ParallelOptions { MaxDegreeOfParallelism = workers }, c =>
        {
            long first = c * chunk;
            Interlocked.Add(ref total, kernel(input, output, new(first, Math.Min(chunk, rows - first), queries), n));
        });
        return total;
    }

    private const int ChunksPerWorker = 16;

    internal static Span<T> Data<T>(Tensor t) where T : unmanaged => MemoryMarshal.Cast<byte, T>(t.bytes);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long ForwardRows<T>(Tensor input, Tensor output, RowRange rows, int n, RowSolver solver, bool countSupport)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var all = Data<T>(input);
        var outAll = Data<T>(output);
        var candidates = new double[n + Vector<double>.Count];          // room for a whole row and the padding
        double scale = solver.Alpha - 1;
        long support = 0;
        for (long r = rows.First; r < rows.First + rows.Count; r++)
        {
            int keys = rows.Keys(r, n);
            var z = all.Slice((int)(r * n), keys);
            var p = outAll.Slice((int)(r * n), keys);
            outAll.Slice((int)(r * n) + keys, n - keys).Clear();          // past the diagonal of a causal row
            T max = Max(z);
            if (T.IsNegativeInfinity(max)) { p.Clear(); continue; }
            int count = Gather(z, max, scale, candidates);
            var a = candidates.AsSpan(0, count);
            if (solver.Iterations == 0) Write(z, p, max, T.CreateTruncating(0.5), T.CreateTruncating(Threshold(a)), T.One);
            else
            {
                var (tau, total) = Bisect(a, solver.Alpha, solver.Iterations, keys);
                if (scale == 0.5) Write(z, p, max, T.CreateTruncating(scale), T.CreateTruncating(tau), T.CreateTruncating(1 / total));
                else WritePower(z, p, double.CreateTruncating(max), scale, tau, 1 / total);
            }
            if (countSupport) support += Support(p, null);
        }
        return support;
    }

    /// <summary>
    /// How many entries of <paramref name="row"/> are nonzero; their indices, ascending, go to the front of
    /// <paramref name="into"/> when given. One 256-bit comparison per 8 (float) or 4 (double) entries, then a step per
    /// nonzero.
    /// </summary>
    internal static int Support<T>(ReadOnlySpan<T> row, int[]? into) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = 0, start = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<T>.Count)
        {
            ref T first = ref MemoryMarshal.GetReference(row);
            for (; start + Vector256<T>.Count <= row.Length; start += Vector256<T>.Count)
            {
                uint bits = Vector256.GreaterThan(Vector256.LoadUnsafe(ref first, (nuint)start), Vector256<T>.Zero).ExtractMostSignificantBits();
                if (into is null) { count += BitOperations.PopCount(bits); continue; }
                for (; bits != 0; bits &= bits - 1) into[count++] = start + BitOperations.TrailingZeroCount(bits);
            }
        }
        for (int j = start; j < row.Length; j++)
        {
            if (!(row[j] > T.Zero)) continue;
            if (into is not null) into[count] = j;
            count++;
        }
        return count;
    }

    /// <summary>
    /// Writes the candidates a = scale·(z − m) &gt; −1 of a row to the front of <paramref name="into"/> and returns their
    /// count: one 256-bit comparison per 8 (float) or 4 (double) entries, then a step per set bit of its mask — the work
    /// is the number of candidates, not the row length. The tail (and machines without 256-bit SIMD) store every value
    /// and advance the count only for candidates, without a branch.
    /// </summary>
    private static int Gather<T>(Span<T> z, T max, double scale, double[] into) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T floor = max - T.CreateTruncating(1 / scale);
        double m = double.CreateTruncating(max);
        int count = 0, start = 0;
        if (Vector256.IsHardwareAccelerated && z.Length >= Vector256<T>.Count)
        {
            var vfloor = Vector256.Create(floor);
            ref T first = ref MemoryMarshal.GetReference(z);
            for (; start + Vector256<T>.Count <= z.Length; start += Vector256<T>.Count)
            {
                uint bits = Vector256.GreaterThan(Vector256.LoadUnsafe(ref first, (nuint)start), vfloor).ExtractMostSignificantBits();
                for (; bits != 0; bits &= bits - 1)                           // one step per candidate, none for the rest
                    into[count++] = (double.CreateTruncating(z[start + BitOperations.TrailingZeroCount(bits)]) - m) * scale;
            }
        }
        for (int j = start; j < z.Length; j++)
        {
            into[count] = (double.CreateTruncating(z[j]) - m) * scale;
            count += z[j] > floor ? 1 : 0;
        }
        return count;
    }

    /// <summary>
    /// τ of 1.5-entmax from the candidates a (a row's values (z − m)/2 above −1; reordered in place). Newton's method on
    /// f(τ) = Σ [a − τ]₊² − 1 from τ = −1: f is convex and decreasing, so the iterates rise monotonically towards the root
    /// and never pass it, and every entry at or below an iterate is outside the support for good. After each step the
    /// closed form over the kept set K, τ_K = μ − √((1 − |K|σ²)/|K|), is the answer as soon as it is consistent (τ_K ≥ the
    /// iterate and min K &gt; τ_K: then f(τ_K) = 0 exactly). Each step is one SIMD pass over the kept set (entries at or
    /// below the iterate masked out); the set is compacted when it has halved. Where rounding stalls the iteration, the
    /// sort-based k-loop of <see cref="SortedThreshold"/> finishes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double Threshold(Span<double> a)
    {
        double tau = -1;
        int count = a.Length, kept = count;
        for (int iteration = 0; iteration < 64; iteration++)
        {
            if (2 * kept <= count) count = Compact(a[..count], tau);
            var (k, s1, s2, min) = MaskedMoments(a[..count], tau);
            kept = k;
            if (k == 0) return double.NaN;                                   // only for NaN input
            double mean = s1 / k, closed = mean - Math.Sqrt(Math.Max((1 - k * (s2 / k - mean * mean)) / k, 0));
            if (closed >= tau && min > closed) return closed;
            double f = s2 - 2 * tau * s1 + k * tau * tau - 1, slope = 2 * (s1 - k * tau);
            double next = tau + f / slope;
            if (!(next > tau)) break;                                        // rounding: finish by sorting the few left
            tau = next;
        }
        return SortedThreshold(a[..Compact(a[..count], tau)]);
    }

    /// <summary>Count, Σa, Σa² and min a over the entries a &gt; τ, one SIMD pass.</summary>
    private static (int Count, double Sum, double SumSquares, double Min) MaskedMoments(Span<double> a, double tau)
    {
        int j = 0, k = 0;
        double s1 = 0, s2 = 0, min = double.PositiveInfinity;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<double>.Count)
        {
            var lanes = MemoryMarshal.Cast<double, Vector<double>>(a);
            Vector<double> vt = new(tau), inf = new(double.PositiveInfinity), vs1 = Vector<double>.Zero, vs2 = Vector<double>.Zero, vmin = inf;
            Vector<long> vk = Vector<long>.Zero;
            foreach (var x in lanes)
            {
                var keep = Vector.GreaterThan(x, vt);
                var xk = Vector.ConditionalSelect(keep, x, Vector<double>.Zero);
                vs1 += xk;
                vs2 += xk * xk;
                vk -= keep;                                                  // a kept lane is all ones: −1
                vmin = Vector.Min(vmin, Vector.ConditionalSelect(keep, x, inf));
            }
            s1 = Vector.Sum(vs1); s2 = Vector.Sum(vs2); k = (int)Vector.Sum(vk);
            for (int i = 0; i < Vector<double>.Count; i++) min = Math.Min(min, vmin[i]);
            j = lanes.Length * Vector<double>.Count;
        }
        for (; j < a.Length; j++)
        {
            double x = a[j];
            if (!(x > tau)) continue;
            k++; s1 += x; s2 += x * x;
            if (x < min) min = x;
        }
        return (k, s1, s2, min);
    }

    /// <summary>Moves the entries above τ to the front; returns how many there are.</summary>
    private static int Compact(Span<double> a, double tau)
    {
        int k = 0;
        for (int i = 0; i < a.Length; i++)
        {
            a[k] = a[i];
            k += a[i] > tau ? 1 : 0;
        }
        return k;
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

    /// <summary>
    /// Bisection on the candidates a (values (α − 1)(z − m) above −1 of a row of <paramref name="n"/>; reordered in
    /// place), exactly as the tensor path: the bracket [−1, −(1/n)^{α−1}], halved <paramref name="iterations"/> times,
    /// keeping the lower end where Σ [a − τ]₊^{1/(α−1)} ≥ 1. Returns the last midpoint and the mass there (the caller
    /// divides by it). Entries at or below the lower end never count again and are dropped when they are half the set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (double Tau, double Total) Bisect(Span<double> a, double alpha, int iterations, int n)
    {
        double exponent = 1 / (alpha - 1), lo = -1, width = 1 - Math.Pow(1.0 / n, alpha - 1), mid = lo, total = 0;
        int count = a.Length, aboveLo = count;
        for (int i = 0; i < iterations; i++)
        {
            if (2 * aboveLo <= count) count = Compact(a[..count], lo);
            width /= 2;
            mid = lo + width;
            (total, int above) = Mass(a[..count], mid, exponent);
            if (total >= 1) { lo = mid; aboveLo = above; }                 // only a rising lower end drops entries
        }
        return (mid, total);
    }

    /// <summary>Σ [a − τ]₊^e over a and the number of entries above τ; SIMD for e = 2 (α = 1.5) and e = 1 (α = 2).</summary>
    private static (double Total, int Above) Mass(Span<double> a, double tau, double exponent)
    {
        double total = 0;
        int above = 0, j = 0;
        bool square = exponent == 2, linear = exponent == 1;
        if ((square || linear) && Vector.IsHardwareAccelerated && a.Length >= Vector<double>.Count)
        {
            var lanes = MemoryMarshal.Cast<double, Vector<double>>(a);
            Vector<double> vt = new(tau), sum = Vector<double>.Zero;
            Vector<long> vk = Vector<long>.Zero;
            foreach (var x in lanes)
            {
                var d = Vector.Max(x - vt, Vector<double>.Zero);
                sum += square ? d * d : d;
                vk -= Vector.GreaterThan(x, vt);
            }
            total = Vector.Sum(sum); above = (int)Vector.Sum(vk);
            j = lanes.Length * Vector<double>.Count;
        }
        for (; j < a.Length; j++)
        {
            double d = a[j] - tau;
            if (!(d > 0)) continue;
            above++;
            total += square ? d * d : linear ? d : Math.Pow(d, exponent);
        }
        return (total, above);
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

    /// <summary>p = c · [s (z − m) − τ]₊² (s = α − 1 = ½ for 1.5-entmax; c = 1, or 1/mass after bisection).</summary>
    private static void Write<T>(Span<T> z, Span<T> p, T m, T s, T tau, T c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && z.Length >= Vector<T>.Count)
        {
            var zl = MemoryMarshal.Cast<T, Vector<T>>(z);
            var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
            Vector<T> vm = new(m), vt = new(tau), vs = new(s), vc = new(c);
            for (int i = 0; i < zl.Length; i++)
            {
                var d = Vector.Max((zl[i] - vm) * vs - vt, Vector<T>.Zero);
                pl[i] = d * d * vc;
            }
            j = zl.Length * Vector<T>.Count;
        }
        for (; j < z.Length; j++)
        {
            T d = T.Max((z[j] - m) * s - tau, T.Zero);
            p[j] = d * d * c;
        }
    }

    /// <summary>p = c · [s (z − m) − τ]₊^{1/s} for any α (powers only on the support).</summary>
    private static void WritePower<T>(Span<T> z, Span<T> p, double m, double s, double tau, double c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double exponent = 1 / s;
        for (int j = 0; j < z.Length; j++)
        {
            double d = (double.CreateTruncating(z[j]) - m) * s - tau;
            p[j] = d > 0 ? T.CreateTruncating(c * (exponent == 1 ? d : Math.Pow(d, exponent))) : T.Zero;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long BackwardRows<T>(Tensor pTensor, Tensor grad, Tensor output, RowRange rows, int n, double alpha)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pAll = Data<T>(pTensor);
        var gAll = Data<T>(grad);
        var outAll = Data<T>(output);
        for (long r = rows.First; r < rows.First + rows.Count; r++)
        {
            int width = Math.Min(n, (rows.Keys(r, n) + Vector<T>.Count - 1) / Vector<T>.Count * Vector<T>.Count);   // to the end of the diagonal's lane
            var p = pAll.Slice((int)(r * n), width);
            var g = gAll.Slice((int)(r * n), width);
            var o = outAll.Slice((int)(r * n), width);
            outAll.Slice((int)(r * n) + width, n - width).Clear();
            var (wg, w) = alpha == 1.5 ? SquareRootWeights(p, g, o) : PowerWeights(p, g, o, 2 - alpha);   // o = w, returns ⟨w, g⟩, Σw
            T q = w == T.Zero ? T.Zero : wg / w;
            int j = 0;
            if (Vector.IsHardwareAccelerated && o.Length >= Vector<T>.Count)
            {
                var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
                var gl = MemoryMarshal.Cast<T, Vector<T>>(g);
                var ol = MemoryMarshal.Cast<T, Vector<T>>(o);
                var vq = new Vector<T>(q);
                for (int i = 0; i < ol.Length; i++)
                    if (!Vector.EqualsAll(pl[i], Vector<T>.Zero)) ol[i] *= gl[i] - vq;   // lanes off the support stay 0, g unread
                j = ol.Length * Vector<T>.Count;
            }
            for (; j < o.Length; j++) o[j] *= g[j] - q;
        }
        return 0;
    }

    /// <summary>o = √p; returns (⟨√p, g⟩, Σ√p). SIMD lanes wholly off the support (most of a sparse row) skip g.</summary>
    private static (T Wg, T W) SquareRootWeights<T>(Span<T> p, Span<T> g, Span<T> o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T wg = T.Zero, w = T.Zero;
        int j = 0;
        if (Vector.IsHardwareAccelerated && p.Length >= Vector<T>.Count)
        {
            var pl = MemoryMarshal.Cast<T, Vector<T>>(p);
            var gl = MemoryMarshal.Cast<T, Vector<T>>(g);
            var ol = MemoryMarshal.Cast<T, Vector<T>>(o);
            Vector<T> swg = Vector<T>.Zero, sw = Vector<T>.Zero;
            for (int i = 0; i < pl.Length; i++)
            {
                if (Vector.EqualsAll(pl[i], Vector<T>.Zero)) { ol[i] = Vector<T>.Zero; continue; }
                var s = Vector.SquareRoot(pl[i]);
                ol[i] = s; swg += s * gl[i]; sw += s;
            }
            wg = Vector.Sum(swg);
            w = Vector.Sum(sw);
            j = pl.Length * Vector<T>.Count;
        }
        for (; j < p.Length; j++) { T s = T.Sqrt(p[j]); o[j] = s; wg += s * g[j]; w += s; }
        return (wg, w);
    }

    /// <summary>o = p^e on the support (0 elsewhere); returns (⟨w, g⟩, Σw).</summary>
    private static (T Wg, T W) PowerWeights<T>(Span<T> p, Span<T> g, Span<T> o, double e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double wg = 0, w = 0;
        for (int j = 0; j < p.Length; j++)
        {
            double x = double.CreateTruncating(p[j]), s = x > 0 ? (e == 0 ? 1 : Math.Pow(x, e)) : 0;
            o[j] = T.CreateTruncating(s);
            wg += s * double.CreateTruncating(g[j]);
            w += s;
        }
        return (T.CreateTruncating(wg), T.CreateTruncating(w));
    }
}
