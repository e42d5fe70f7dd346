using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EfficientAttention;

/// <summary>What <see cref="Trainer"/> asks of a model, so that it needs to know no concrete model type.</summary>
/// <summary>
/// A model whose outputs are needed only where a target counts — a masked LM over a 30 000-word vocabulary scores the
/// 15 % masked positions, not all of them: the trainer and <see cref="Metrics.Evaluate"/> ask it for logits (M, C) and
/// targets (M) at the counted positions instead of calling it on every position.
/// </summary>
public interface ICountedOutputs
{
    (Tensor Logits, Tensor Targets) AtCounted(Tensor inputs, Tensor targets);
}

public interface ITrainable
{
    /// <summary>One line for the progress display: the architecture and parameter count.</summary>
    string Description { get; }

    /// <summary>
    /// Whether AdamW decays this parameter: the matrices of linear maps, convolutions and embeddings do; norms, biases,
    /// position tables and learned tokens do not.
    /// </summary>
    bool DecaysWeight(string name, Parameter parameter);

    /// <summary>Input positions in a batch (tokens, or patches + CLS), for the throughput the trainer reports.</summary>
    long PositionsIn(Tensor inputs);

    /// <summary>Full checks of a batch, including those that read values back to the host (token ids in range).</summary>
    void CheckInputs(Tensor inputs);
}

/// <summary>
/// The plumbing every model head shares: embed the input (<see cref="Embed"/>), run the <see cref="TransformerStack"/>,
/// read out (<see cref="ReadOut"/>); one <see cref="Forward"/> that also returns every layer's attention; seeded
/// initialisation from a generator of the model's own, never the global one (<see cref="Initialize"/>); and what the
/// trainer needs (<see cref="ITrainable"/>).
/// </summary>
public abstract class TransformerModel : Module<Tensor, Tensor>, ITrainable
{
    private readonly TransformerStack stack;

    protected TransformerModel(string name, TransformerConfig config) : base(name)
    {
        TorchRuntime.EnsureLoaded();
        stack = new TransformerStack(config);
        register_module(nameof(stack), stack);
    }

    public TransformerConfig Config => stack.Config;
    public TransformerStack Stack => stack;

    /// <summary>Trainable parameters.</summary>
    public long ParameterCount => parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    public string Description => $"{GetType().Name}: {Config.Layers} layers × {Config.Heads} heads, D = {Config.ModelDim}, MLP = {Config.MlpDim}, {ParameterCount:N0} parameters";

    public override string ToString() => Description;

    public override Tensor forward(Tensor input) => Forward(input).Output;

    /// <summary>
    /// Logits, and with <paramref name="withProbabilities"/> every layer's attention probabilities from the same pass,
    /// stacked (layers, B, H, L, L). In eval mode the input's values are checked too (<see cref="CheckInputs"/>); in
    /// training mode only its shape, so that no step waits on the host.
    /// </summary>
    public AttentionResult Forward(Tensor input, bool withProbabilities = false)
    {
        CheckShape(input);
        if (!training) CheckValues(input);
        using var scope = NewDisposeScope();
        var (x, mask) = Embed(input);                                                  // (B, L, D)
        var (hidden, p) = stack.Forward(x, mask, withProbabilities);                  // (B, L, D)
        return new(ReadOut(hidden, mask).MoveToOuterDisposeScope(), p?.MoveToOuterDisposeScope());
    }

    /// <summary>Input → the stack's input (B, L, D) (embeddings, positions, dropout) and the attention mask.</summary>
    protected abstract (Tensor X, AttentionMask? Mask) Embed(Tensor input);

    /// <summary>The stack's normalised output (B, L, D) → logits.</summary>
    protected abstract Tensor ReadOut(Tensor hidden, AttentionMask? mask);

    /// <summary>Shape and dtype checks (no values read).</summary>
    protected abstract void CheckShape(Tensor input);

    /// <summary>Checks that read values (token ids in range); nothing by default.</summary>
    protected virtual void CheckValues(Tensor input) { }

    /// <summary>A new model of this kind and size for <paramref name="config"/> (weights are copied in afterwards).</summary>
    protected abstract TransformerModel Rebuild(TransformerConfig config);

    /// <summary>Parameters of the model itself (not of a layer) that weight decay skips: position tables, learned tokens.</summary>
    protected virtual IEnumerable<Parameter> Undecayed => [];

    public void CheckInputs(Tensor inputs) { CheckShape(inputs); CheckValues(inputs); }

    public virtual long PositionsIn(Tensor inputs) => inputs.shape[0] * inputs.shape[1];

    public bool DecaysWeight(string name, Parameter parameter) =>
        parameter.dim() >= 2 && !Undecayed.Any(p => ReferenceEquals(p, parameter)) && !name.Contains(".core.");

    /// <summary>
    /// The same weights with each layer's attention core replaced (e.g. dense entmax → a Sparsefinder predictor):
    /// a new model, on the same device and in the same train/eval mode; this one is unchanged. Parameters the new cores
    /// bring (learned projections) keep their own values and stay shared with the caller: disposing the copy disposes
    /// them too, so dispose it only when they are no longer needed.
    /// </summary>
    internal TransformerModel CopyWithAttention(Func<int, IAttention> attention)
    {
        var copy = Rebuild(Config with { Attention = attention ?? throw new ArgumentNullException(nameof(attention)) });
        var first = parameters().First();
        copy.to(first.dtype).to(first.device);
        var state = copy.state_dict();
        using (no_grad())
            foreach (var (name, value) in state_dict())
                if (state.TryGetValue(name, out var target)) target.copy_(value);
        copy.train(training);
        return copy;
    }

    /// <summary>
    /// Initial weights from <paramref name="seed"/>, drawn from a generator of the model's own: linear maps and
    /// convolutions as PyTorch initialises them (weights and biases U(±1/√fan-in)), embeddings N(0, 1), norms at
    /// identity; then <paramref name="own"/> sets the model's own tensors (position tables, learned tokens). Call it
    /// at the end of a derived constructor.
    /// </summary>
    protected void Initialize(long seed, Action<Generator> own)
    {
        var generator = new Generator((ulong)seed, torch.device("cpu"));
        using var _ = no_grad();
        foreach (var (name, module) in named_modules())
        {
            if (name.Split('.').Contains("core")) continue;                            // a learned core initialises itself
            switch (module)
            {
                case Linear linear:
                    Uniform(linear.weight!, linear.bias, linear.weight!.shape[1], generator);
                    break;
                case Conv2d conv:
                    Uniform(conv.weight!, conv.bias, conv.weight!.shape[1..].Aggregate(1L, (a, b) => a * b), generator);
                    break;
                case Embedding embedding:
                    Normal(embedding.weight!, 1, generator);
                    break;
                case LayerNorm norm:
                    init.ones_(norm.weight!);
                    init.zeros_(norm.bias!);
                    break;
            }
        }
        own(generator);
    }

    private static void Uniform(Tensor weight, Tensor? bias, long fanIn, Generator generator)
    {
        double bound = 1 / Math.Sqrt(fanIn);
        Uniform(weight, bound, generator);
        if (bias is not null) Uniform(bias, bound, generator);
    }

    // TorchSharp 0.107's init.uniform_/normal_ ignore their generator argument (they draw from the global generator,
    // so the same seed gave different weights in different processes); its factory functions honour it.
    private static void Uniform(Tensor t, double bound, Generator generator) =>
        t.copy_(rand(t.shape, dtype: t.dtype, generator: generator).mul_(Scalars.Of(2 * bound)).sub_(Scalars.Of(bound)));

    /// <summary>Fills <paramref name="t"/> with N(0, <paramref name="std"/>²) draws from <paramref name="generator"/>.</summary>
    protected static void Normal(Tensor t, double std, Generator generator) =>
        t.copy_(randn(t.shape, dtype: t.dtype, generator: generator).mul_(Scalars.Of(std)));

    /// <summary>Token ids (B, L) int64 with L ≤ MaxLength; shape only.</summary>
    protected void CheckTokenShape(Tensor tokens, int extraPositions = 0)
    {
        if (tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"tokens has dtype {tokens.dtype}; expected Int64 token ids.", nameof(tokens));
        Guard.Rank(tokens, 2, nameof(tokens), "(batch, length)");
        if (tokens.shape[1] + extraPositions > Config.MaxLength)
            throw new ArgumentException($"tokens has shape {Guard.Shape(tokens)}; expected length ≤ MaxLength = {Config.MaxLength - extraPositions}.", nameof(tokens));
    }

    /// <summary>Every id in [0, <paramref name="vocabularySize"/>) — reads two values back to the host.</summary>
    protected static void CheckTokenRange(Tensor tokens, int vocabularySize)
    {
        if (tokens.numel() == 0) return;
        long min = tokens.min().item<long>(), max = tokens.max().item<long>();
        if (min < 0 || max >= vocabularySize)
            throw new ArgumentException($"tokens has ids in [{min}, {max}]; expected 0 ≤ id < vocabularySize = {vocabularySize}.", nameof(tokens));
    }
}

/// <summary>Model helpers that keep the concrete type.</summary>
public static class TransformerModels
{
    /// <inheritdoc cref="TransformerModel.CopyWithAttention"/>
    public static T WithAttention<T>(this T model, Func<int, IAttention> attention) where T : TransformerModel
        => (T)model.CopyWithAttention(attention);
}
