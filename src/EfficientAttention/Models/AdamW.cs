using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientAttention;

/// <summary>One set of parameters and its weight decay; its learning rate is set before each step.</summary>
public sealed class ParameterGroup(IReadOnlyList<Parameter> parameters, double weightDecay)
{
    public IReadOnlyList<Parameter> Parameters { get; } = parameters;
    public double WeightDecay { get; } = weightDecay >= 0 ? weightDecay
        : throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"weightDecay = {weightDecay}; expected ≥ 0.");
    public double LearningRate { get; set; }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, decoupled weight decay) with the same arithmetic, in the same order, as TorchSharp's
/// and PyTorch's <c>AdamW</c> (without amsgrad): θ ← θ(1 − ηλ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
/// θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε). With λ = 0 it is Adam. It exists because TorchSharp 0.107's own
/// step hands every number to libtorch as a collectable <see cref="Scalar"/> (see <see cref="Scalars"/>), which let a
/// garbage collection on another thread crash a training run natively; here every number goes through
/// <see cref="Scalars.Of(double)"/>. Tests compare it with TorchSharp's AdamW and Adam step for step and with a
/// plain-C# double reference.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly (Parameter Parameter, Tensor Mean, Tensor Square, ParameterGroup Group)[] states;

    public AdamW(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"beta1 = {beta1}; expected 0 ≤ β₁ < 1.");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"beta2 = {beta2}; expected 0 ≤ β₂ < 1.");
        Guard.Positive(epsilon, nameof(epsilon));
        (Groups, Beta1, Beta2, Epsilon) = (groups, beta1, beta2, epsilon);
        using var _ = no_grad();
        states = groups.SelectMany(g => g.Parameters.Select(p => (p, zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope(), g))).ToArray();
    }

    /// <summary>Adam over <paramref name="parameters"/> (no weight decay) at a fixed learning rate.</summary>
    public static AdamW Adam(IEnumerable<Parameter> parameters, double learningRate) =>
        new([new ParameterGroup(parameters.ToList(), 0) { LearningRate = learningRate }]);

    public IReadOnlyList<ParameterGroup> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }

    /// <summary>Steps taken (the t of the bias corrections).</summary>
    public long Steps { get; private set; }

    public void ZeroGrad()
    {
        foreach (var (p, _, _, _) in states) p.grad?.zero_();
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        Steps++;
        double correction1 = 1 - Math.Pow(Beta1, Steps), correction2 = 1 - Math.Pow(Beta2, Steps);
        using var _ = no_grad();
        foreach (var (p, mean, square, group) in states)
        {
            using var scope = NewDisposeScope();
            var grad = p.grad;
            if (grad is null) continue;
            double lr = group.LearningRate;
            if (group.WeightDecay != 0) p.mul_(Scalars.Of(1 - lr * group.WeightDecay));
            mean.mul_(Scalars.Of(Beta1)).add_(grad, alpha: Scalars.Of(1 - Beta1));
            square.mul_(Scalars.Of(Beta2)).addcmul_(grad, grad, value: Scalars.Of(1 - Beta2));
            var denominator = square.sqrt().div_(Scalars.Of(Math.Sqrt(correction2))).add_(Scalars.Of(Epsilon), Scalars.One);   // add_(s) would make its alpha 1 implicitly
            p.addcdiv_(mean, denominator, value: Scalars.Of(-lr / correction1));
        }
    }

    /// <summary>Writes the step count and both moments of every parameter.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Steps);
        writer.Write(states.Length);
        foreach (var (_, mean, square, _) in states) { mean.Save(writer); square.Save(writer); }
    }

    /// <summary>Reads what <see cref="Save"/> wrote for the same parameters.</summary>
    public void Load(BinaryReader reader)
    {
        long steps = reader.ReadInt64();
        int count = reader.ReadInt32();
        if (count != states.Length) throw new InvalidDataException($"the optimizer state holds {count} parameters; this optimizer has {states.Length}.");
        using var _ = no_grad();
        foreach (var (_, mean, square, _) in states) { mean.Load(reader); square.Load(reader); }
        Steps = steps;
    }

    public void Dispose()
    {
        foreach (var (_, mean, square, _) in states) { mean.Dispose(); square.Dispose(); }
    }
}
