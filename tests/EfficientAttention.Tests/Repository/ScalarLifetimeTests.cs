using Mono.Cecil;
using EfficientAttention.Tests.Shared;

namespace EfficientAttention.Tests;

/// <summary>
/// TorchSharp 0.107 turns a C# number into a native <c>Scalar</c> whose only owner is the garbage collector, and does
/// not keep it alive across the native call that reads it: a collection started by another thread in that window runs
/// the Scalar's finalizer, which frees it while libtorch reads it ("Expected false to be true … toFloat
/// (Scalar.h:140)"). That happens where the library converts a number itself, and inside TorchSharp members that
/// convert one for the caller (<c>a + b</c> of two tensors is <c>add(b, alpha: 1)</c> with an implicit 1; <c>t * 0.5</c>
/// converts 0.5). The library therefore passes every number as a <see cref="Scalars"/> value and never calls such a
/// member. <see cref="ScalarLifetimeCheck"/> reads TorchSharp.dll's IL to find those members (transitively) and
/// compiles the library's sources to find every call of one, and every implicit conversion, naming file and line; the
/// notebook support's sources are checked by its own test project, which has their references.
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void The_library_hands_libtorch_no_number_that_the_garbage_collector_may_free_during_the_call()
    {
        var found = ScalarLifetimeCheck.Violations(Path.Combine(Shared.DatasetSetup.RepositoryRoot(), "src", "EfficientAttention"));
        Assert.True(found.Count == 0, $"{found.Count} places make a collectable Scalar (pass Scalars.Of(x) / Scalars.One explicitly):\n" + string.Join("\n", found.Take(80)));
    }

    [Fact]
    public void The_check_finds_a_conversion_and_a_converting_member_where_there_are_some()
    {
        var dir = Directory.CreateTempSubdirectory("scalar-check").FullName;
        File.WriteAllText(Path.Combine(dir, "A.cs"), """
            using TorchSharp;
            static class A
            {
                static torch.Tensor F(torch.Tensor t) => t.clamp_min(0.5);
                static torch.Tensor G(torch.Tensor t) { using var s = 0.5.ToScalar(); return t.mul(s); }
                static torch.Tensor H(torch.Tensor a, torch.Tensor b) => a + b;
                static torch.Tensor I(torch.Tensor a, torch.Tensor b) => a.add(b, EfficientAttention.Scalars.One) * b;
                static torch.Tensor J(torch.Tensor q) { q = q / Math.Sqrt(q.shape[3]); return q; }  // Math from the implicit usings
            }
            """);
        try { Assert.Equal(["A.cs:4", "A.cs:6", "A.cs:8"], ScalarLifetimeCheck.Violations(dir).Select(f => f[..f.IndexOf(' ')])); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TorchSharps_tensor_sum_and_difference_convert_an_implicit_alpha_and_the_explicit_overloads_do_not()
    {
        var unsafeMembers = ScalarLifetimeCheck.TorchSharpMembersThatConvert();
        string Name(MethodDefinition m) => $"{m.DeclaringType.Name}.{m.Name}({string.Join(", ", m.Parameters.Select(p => p.ParameterType.Name))})";
        var names = unsafeMembers.Values.Select(Name).ToHashSet();
        Assert.Contains("Tensor.op_Addition(Tensor, Tensor)", names);
        Assert.Contains("Tensor.add(Tensor)", names);
        Assert.Contains("Tensor.op_Multiply(Tensor, Double)", names);
        Assert.DoesNotContain("Tensor.add(Tensor, Scalar)", names);
        Assert.DoesNotContain("Tensor.op_Multiply(Tensor, Tensor)", names);
        // The library's models call modules through Module.call → forward (virtual), which the call graph does not follow:
        // the forwards of the modules it uses are checked here instead.
        foreach (var module in new[] { "Linear", "LayerNorm", "Dropout", "Embedding" })
            Assert.DoesNotContain($"{module}.forward(Tensor)", names);
        Assert.Contains(unsafeMembers.Values, m => m.DeclaringType.Name == "Threshold" && m.Name == "forward");   // where one does, it is seen
    }
}
