using TorchSharp.Modules;

namespace EfficientAttention.Tests;

public class AdamWTests
{
    /// <summary>Two float64 linear layers' parameters, their gradients from a fixed loss, for step-by-step comparison.</summary>
    private static (Linear Model, Tensor X) Model(long seed)
    {
        manual_seed(seed);
        var model = nn.Linear(5, 3, dtype: ScalarType.Float64);
        return (model, randn(new long[] { 8, 5 }, ScalarType.Float64, generator: new Generator((ulong)seed + 1)));
    }

    private static void Backward(Linear model, Tensor x) => model.call(x).pow(Scalars.Of(3)).mean().backward();

    [Fact]
    public void Matches_TorchSharps_AdamW_step_for_step_with_decay_on_matrices_only_and_a_changing_learning_rate()
    {
        var (ours, x) = Model(1);
        var (theirs, _) = Model(1);
        using var optimizer = new AdamW([new ParameterGroup([ours.weight!], 0.1), new ParameterGroup([ours.bias!], 0)], 0.9, 0.95, 1e-8);
        using var reference = optim.AdamW([new TorchSharp.Modules.AdamW.ParamGroup([theirs.weight!], 1e-2, 0.9, 0.95, 1e-8, 0.1), new TorchSharp.Modules.AdamW.ParamGroup([theirs.bias!], 1e-2, 0.9, 0.95, 1e-8, 0)]);
        for (int step = 0; step < 12; step++)
        {
            double lr = 1e-2 * (1 + step % 3);
            foreach (var g in optimizer.Groups) g.LearningRate = lr;
            foreach (var g in reference.ParamGroups) g.LearningRate = lr;
            optimizer.ZeroGrad(); reference.zero_grad();
            Backward(ours, x); Backward(theirs, x);
            optimizer.Step(); reference.step();
            Assert.True(ours.weight!.allclose(theirs.weight!, rtol: 0, atol: 1e-14), $"weight after step {step + 1}");
            Assert.True(ours.bias!.allclose(theirs.bias!, rtol: 0, atol: 1e-14), $"bias after step {step + 1}");
        }
        Assert.Equal(12, optimizer.Steps);
    }

    [Fact]
    public void Without_weight_decay_it_is_TorchSharps_Adam()
    {
        var (ours, x) = Model(2);
        var (theirs, _) = Model(2);
        using var optimizer = AdamW.Adam(ours.parameters(), 3e-3);
        using var reference = optim.Adam(theirs.parameters(), 3e-3);
        for (int step = 0; step < 8; step++)
        {
            optimizer.ZeroGrad(); reference.zero_grad();
            Backward(ours, x); Backward(theirs, x);
            optimizer.Step(); reference.step();
        }
        Assert.True(ours.weight!.allclose(theirs.weight!, rtol: 0, atol: 1e-14));
    }

    [Fact]
    public void Matches_the_update_rule_written_out_in_doubles()
    {
        // One parameter θ, loss θ³ (gradient 3θ²), η = 0.1, λ = 0.5, β = (0.9, 0.999), ε = 1e-8, three steps.
        var theta = new Parameter(tensor(new[] { 0.7 }, ScalarType.Float64));
        using var optimizer = new AdamW([new ParameterGroup([theta], 0.5) { LearningRate = 0.1 }]);
        double t = 0.7, m = 0, v = 0;
        for (int step = 1; step <= 3; step++)
        {
            optimizer.ZeroGrad();
            theta.pow(Scalars.Of(3)).sum().backward();
            optimizer.Step();
            double g = 3 * t * t;
            t *= 1 - 0.1 * 0.5;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            t -= 0.1 / (1 - Math.Pow(0.9, step)) * m / (Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(0.999, step)) + 1e-8);
            Assert.Equal(t, theta.item<double>(), 12);
        }
    }

    [Fact]
    public void Its_state_saves_and_loads_so_training_continues_identically()
    {
        var (a, x) = Model(3);
        var (b, _) = Model(3);
        using var first = AdamW.Adam(a.parameters(), 1e-2);
        for (int i = 0; i < 3; i++) { first.ZeroGrad(); Backward(a, x); first.Step(); }
        var stream = new MemoryStream();
        first.Save(new BinaryWriter(stream));
        b.load_state_dict(a.state_dict());
        using var second = AdamW.Adam(b.parameters(), 1e-2);
        stream.Position = 0;
        second.Load(new BinaryReader(stream));
        Assert.Equal(3, second.Steps);
        first.ZeroGrad(); Backward(a, x); first.Step();
        second.ZeroGrad(); Backward(b, x); second.Step();
        Assert.True(a.weight!.allclose(b.weight!, rtol: 0, atol: 0));
    }

    [Fact]
    public void Bad_settings_say_which_and_what_was_expected()
    {
        var p = new Parameter(zeros(2));
        Assert.Contains("beta1 = 1", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([new ParameterGroup([p], 0)], beta1: 1)).Message);
        Assert.Contains("weightDecay = -0.1", Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterGroup([p], -0.1)).Message);
    }
}
