using TorchSharp;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>
/// Finite-difference check of a hand-written backward pass, in float64: for random output weights w, the analytic
/// gradient of ⟨w, f(x)⟩ (one backward pass) must match central differences (⟨w, f(x + εeᵢ)⟩ − ⟨w, f(x − εeᵢ)⟩) / 2ε
/// in every input coordinate i.
/// </summary>
public static class GradCheck
{
    /// <summary>The worst disagreement found, and whether every coordinate passed |analytic − numeric| ≤ atol + rtol·|numeric|.</summary>
    public sealed record Result(double MaxAbsError, double MaxRelError, long Coordinates, bool Passed)
    {
        public override string ToString() => $"{(Passed ? "passed" : "FAILED")}: max |Δ| = {MaxAbsError:E2}, max rel = {MaxRelError:E2} over {Coordinates} coordinates";
    }

    public static Result Check(Func<Tensor, Tensor> f, Tensor input, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-4,
                               int projections = 2, long seed = 0)
    {
        Guard.FloatingTensor(input, nameof(input));
        Guard.Positive(eps, nameof(eps));
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed, input.device);
        var x = input.detach().to(ScalarType.Float64).clone();
        double maxAbs = 0, maxRel = 0;
        bool passed = true;
        for (int r = 0; r < projections; r++)
        {
            var w = randn(f(x).shape, ScalarType.Float64, x.device, generator: generator);      // output weights
            double Objective(Tensor at) { using var _ = NewDisposeScope(); using (no_grad()) return (f(at) * w).sum().item<double>(); }

            var xr = x.clone().requires_grad_(true);
            (f(xr) * w).sum().backward();
            var analytic = xr.grad!.detach().flatten().data<double>().ToArray();

            var flat = x.flatten();
            for (long i = 0; i < flat.numel(); i++)
            {
                double original = flat[i].item<double>();
                flat[i] = original + eps; double plus = Objective(x);
                flat[i] = original - eps; double minus = Objective(x);
                flat[i] = original;
                double numeric = (plus - minus) / (2 * eps);
                double abs = Math.Abs(analytic[i] - numeric);
                maxAbs = Math.Max(maxAbs, abs);
                maxRel = Math.Max(maxRel, abs / Math.Max(Math.Abs(numeric), 1e-12));
                if (!(abs <= atol + rtol * Math.Abs(numeric))) passed = false;
            }
        }
        return new Result(maxAbs, maxRel, x.numel(), passed);
    }
}
