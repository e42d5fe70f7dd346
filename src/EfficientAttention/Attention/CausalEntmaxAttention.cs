using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace EfficientAttention;

/// <summary>
/// Causal 1.5-entmax attention, (q, k, v) → (output, p), as one autograd function that uses what softmax cannot: the
/// zeros of p. Forward: S = (q/√d) kᵀ and o = p v are libtorch matmuls; p = 1.5-entmax of row i over keys j ≤ i with
/// the mask fused into the C# kernel (<see cref="EntmaxCpu"/>, causal rows: no −∞ copy of S, keys past the diagonal
/// never read). Backward: where p is sparse, every product runs over the support S_i of each row only, in C#:
/// <code>
///   g_ij = dO_i · v_j,   dS_ij = √p_ij (g_ij − Σ_j √p_ij g_ij / Σ_j √p_ij)          (j ∈ S_i only)
///   dq_i = Σ_j dS_ij k_j / √d,   dk_j += dS_ij q_i / √d,   dv_j += p_ij dO_i
/// </code>
/// Naive attention's backward pass is four L² · d matmuls; this is |S| · d work. Where p is dense (more than
/// <see cref="SparseUpTo"/> of the causal pairs nonzero) or short (fewer than <see cref="SparseFrom"/> keys), the
/// backward pass is the dense matmuls, as is one that receives a gradient for p itself (a loss on the maps). The
/// forward pass is the same either way, so outputs never depend on the choice; gradients differ only by rounding.
/// CPU float32/float64 only; the sparse backward pass runs one (batch, head) slice per worker (it scatters into dk, dv).
/// </summary>
internal sealed class CausalEntmaxAttentionFunction : MultiTensorFunction<CausalEntmaxAttentionFunction>
{
    /// <summary>Above this fraction of nonzero p among the causal pairs the backward pass is dense matmuls.</summary>
    internal const double SparseUpTo = 0.25;

    /// <summary>Below this many keys the dense matmuls win whatever the sparsity (their cost is mostly fixed).</summary>
    internal const long SparseFrom = 512;

    public override string Name => "CausalEntmaxAttention";

    /// <summary>True when the fused path takes these inputs (CPU float32/float64 with L² scores that a span can index).</summary>
    public static bool Supports(Tensor q, Tensor k) =>
        q.device_type == DeviceType.CPU && (q.dtype == ScalarType.Float32 || q.dtype == ScalarType.Float64)
        && q.shape[2] > 0 && k.shape[2] > 0 && q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.element_size() <= int.MaxValue;

    /// <summary>Output (B, H, Lq, dᵥ) and p (B, H, Lq, Lk) for q (B, H, Lq, d), k (B, H, Lk, d), v (B, H, Lk, dᵥ), checked by the caller.</summary>
    public static (Tensor Output, Tensor P) Apply(Tensor q, Tensor k, Tensor v, bool? sparse = null)
    {
        var results = apply(q, k, v, sparse!);                                    // null: chosen from p's support
        return (results[0], results[1]);
    }

    public override List<Tensor> forward(AutogradContext ctx, params object[] vars)
    {
        var (q, k, v) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous(), ((Tensor)vars[2]).contiguous());
        ctx.set_materialize_grads(false);                                                // an unused p brings no L² of zeros
        using var scope = NewDisposeScope();
        var scores = q.div(Scalars.Of(Math.Sqrt(q.shape[3]))).matmul(k.transpose(-2, -1));   // as Naive: scaling q costs L·d
        var p = EntmaxCpu.Forward15(scores, causal: true, out long support);
        scores.Dispose();
        var output = p.matmul(v);                                                      // dense: the forward never depends on the strategy
        ctx.save_for_backward([q, k, v, p]);
        ctx.save_data("sparse", vars[3] is bool forced ? forced : SparseBackward(support, q.shape[0] * q.shape[1], q.shape[2], k.shape[2]));
        return [output.MoveToOuterDisposeScope(), p.MoveToOuterDisposeScope()];
    }

    public override List<Tensor> backward(AutogradContext ctx, List<Tensor> grads)
    {
        var saved = ctx.get_saved_variables();
        var (q, k, v, p) = (saved[0], saved[1], saved[2], saved[3]);
        Tensor? dOut = Given(grads[0]), dP = Given(grads.Count > 1 ? grads[1] : null);
        if (dOut is null && dP is null) return [zeros_like(q), zeros_like(k), zeros_like(v), null!];
        double sqrtD = Math.Sqrt(q.shape[3]);
        if ((bool)ctx.get_data("sparse") && dP is null)
        {
            var (dq, dk, dv) = SparseAttentionRows.Backward(q, k, v, p, dOut!.contiguous(), 1 / sqrtD);
            return [dq, dk, dv, null!];                                  // none for the strategy argument
        }
        using var scope = NewDisposeScope();
        var g = dOut is null ? dP! : dP is null ? dOut.matmul(v.transpose(-2, -1)) : dOut.matmul(v.transpose(-2, -1)).add_(dP, Scalars.One);
        var dS = EntmaxCpu.Backward(p, g, 1.5, causal: true);
        var dValues = dOut is null ? zeros_like(v) : p.transpose(-2, -1).matmul(dOut);
        var dQueries = dS.matmul(k).div_(Scalars.Of(sqrtD));
        var dKeys = dS.transpose(-2, -1).matmul(q).div_(Scalars.Of(sqrtD));
        return [dQueries.MoveToOuterDisposeScope(), dKeys.MoveToOuterDisposeScope(), dValues.MoveToOuterDisposeScope(), null!];
    }

    /// <summary>The backward strategy for a map with <paramref name="support"/> nonzeros: sparse when long and sparse enough.</summary>
    internal static bool SparseBackward(long support, long slices, long queries, long keys) =>
        keys >= SparseFrom && support <= SparseUpTo * CausalPairs(slices, queries, keys);

    /// <summary>A gradient autograd handed over, or null for an output nothing used (set_materialize_grads(false)).</summary>
    private static Tensor? Given(Tensor? grad) => grad is null || grad.IsInvalid ? null : grad;

    /// <summary>Pairs (i, j ≤ i) over <paramref name="slices"/> (Lq, Lk) slices, top-left aligned.</summary>
    internal static double CausalPairs(long slices, long queries, long keys)
    {
        long full = Math.Max(0, queries - keys), triangle = Math.Min(queries, keys);   // rows past Lk see every key
        return slices * (triangle * (triangle + 1) / 2.0 + (double)full * keys);
    }
}

/// <summary>The sparse backward pass of <see cref="CausalEntmaxAttentionFunction"/>, row by row over each row's nonzero p.</summary>
internal static class SparseAttentionRows
{
    /// <summary>(dq, dk, dv) from dO over the support of p; one (batch, head) slice per worker.</summary>
    public static (Tensor Dq, Tensor Dk, Tensor Dv) Backward(Tensor q, Tensor k, Tensor v, Tensor p, Tensor dOut, double scale)
    {
        var (dq, dk, dv) = (zeros_like(q), zeros_like(k), zeros_like(v));
        long slices = p.shape[0] * p.shape[1];
        var options = new ParallelOptions { MaxDegreeOfParallelism = (int)Math.Max(1, Math.Min(get_num_threads(), slices)) };
        if (p.dtype == ScalarType.Float32)
            Parallel.For(0, slices, options, s => BackwardSlice<float>(q, k, v, p, dOut, dq, dk, dv, s, (float)scale));
        else
            Parallel.For(0, slices, options, s => BackwardSlice<double>(q, k, v, p, dOut, dq, dk, dv, s, scale));
        return (dq, dk, dv);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardSlice<T>(Tensor qT, Tensor kT, Tensor vT, Tensor pT, Tensor dOutT, Tensor dqT, Tensor dkT, Tensor dvT, long slice, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lq = (int)pT.shape[2], lk = (int)pT.shape[3], d = (int)qT.shape[3], dv = (int)vT.shape[3];
        int qBase = (int)slice * lq * d, kBase = (int)slice * lk * d, vBase = (int)slice * lk * dv, oBase = (int)slice * lq * dv;
        Span<T> q = EntmaxCpu.Data<T>(qT), k = EntmaxCpu.Data<T>(kT), v = EntmaxCpu.Data<T>(vT), p = EntmaxCpu.Data<T>(pT), dOut = EntmaxCpu.Data<T>(dOutT);
        Span<T> dq = EntmaxCpu.Data<T>(dqT), dk = EntmaxCpu.Data<T>(dkT), dvAll = EntmaxCpu.Data<T>(dvT);
        var support = new int[lk];
        var (weights, gradients) = (new T[lk], new T[lk]);            // √p_ij and g_ij over the row's support
        for (int i = 0; i < lq; i++)
        {
            var row = p.Slice((int)((slice * lq + i) * lk), Math.Min(i + 1, lk));
            int nonzero = EntmaxCpu.Support<T>(row, support);
            var dOutRow = dOut.Slice(oBase + i * dv, dv);
            T sum = T.Zero, weighted = T.Zero;
            for (int m = 0; m < nonzero; m++)
            {
                int j = support[m];
                var vRow = v.Slice(vBase + j * dv, dv);
                T w = T.Sqrt(row[j]), g = Dot(dOutRow, vRow);                 // g_ij = dO_i · v_j
                (weights[m], gradients[m]) = (w, g);
                sum += w;
                weighted += w * g;
                Axpy(dvAll.Slice(vBase + j * dv, dv), row[j], dOutRow);      // dv_j += p_ij dO_i
            }
            T mean = sum == T.Zero ? T.Zero : weighted / sum;
            var qRow = q.Slice(qBase + i * d, d);
            var dqRow = dq.Slice(qBase + i * d, d);
            for (int m = 0; m < nonzero; m++)
            {
                int j = support[m];
                T dS = weights[m] * (gradients[m] - mean) * scale;           // dS_ij / √d
                Axpy(dqRow, dS, k.Slice(kBase + j * d, d));                    // dq_i += dS_ij k_j / √d
                Axpy(dk.Slice(kBase + j * d, d), dS, qRow);                    // dk_j += dS_ij q_i / √d
            }
        }
    }

    /// <summary>y += a·x (SIMD).</summary>
    private static void Axpy<T>(Span<T> y, T a, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && y.Length >= Vector<T>.Count)
        {
            var yl = MemoryMarshal.Cast<T, Vector<T>>(y);
            var xl = MemoryMarshal.Cast<T, Vector<T>>(x);
            var va = new Vector<T>(a);
            for (int i = 0; i < yl.Length; i++) yl[i] += va * xl[i];
            j = yl.Length * Vector<T>.Count;
        }
        for (; j < y.Length; j++) y[j] += a * x[j];
    }

    /// <summary>x · y (SIMD).</summary>
    private static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        T total = T.Zero;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<T>.Count)
        {
            var xl = MemoryMarshal.Cast<T, Vector<T>>(x);
            var yl = MemoryMarshal.Cast<T, Vector<T>>(y);
            var sum = Vector<T>.Zero;
            for (int i = 0; i < xl.Length; i++) sum += xl[i] * yl[i];
            total = Vector.Sum(sum);
            j = xl.Length * Vector<T>.Count;
        }
        for (; j < x.Length; j++) total += x[j] * y[j];
        return total;
    }
}
