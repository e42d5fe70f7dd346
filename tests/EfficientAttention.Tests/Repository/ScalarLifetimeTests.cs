using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Operations;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace EfficientAttention.Tests;

/// <summary>
/// TorchSharp 0.107 turns a C# number into a native <c>Scalar</c> whose only owner is the garbage collector, and does
/// not keep it alive across the native call that reads it: a collection started by another thread in that window runs
/// the Scalar's finalizer, which frees it while libtorch reads it ("Expected false to be true … toFloat
/// (Scalar.h:140)"). That happens where the library converts a number itself, and inside TorchSharp members that
/// convert one for the caller (<c>a + b</c> of two tensors is <c>add(b, alpha: 1)</c> with an implicit 1; <c>t * 0.5</c>
/// converts 0.5). The library therefore passes every number as a <see cref="Scalars"/> value and never calls such a
/// member. This test reads TorchSharp.dll's IL to find those members (transitively) and compiles the library's sources
/// to find every call of one, and every implicit conversion, naming file and line.
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void The_library_hands_libtorch_no_number_that_the_garbage_collector_may_free_during_the_call()
    {
        var found = Violations(Path.Combine(Shared.DatasetSetup.RepositoryRoot(), "src", "EfficientAttention"))
            .Concat(Violations(Path.Combine(Shared.DatasetSetup.RepositoryRoot(), "src", "EfficientAttention.Notebooks")).Select(v => "EfficientAttention.Notebooks/" + v)).ToList();
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
            }
            """);
        try { Assert.Equal(["A.cs:4", "A.cs:6"], Violations(dir).Select(f => f[..f.IndexOf(' ')])); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TorchSharps_tensor_sum_and_difference_convert_an_implicit_alpha_and_the_explicit_overloads_do_not()
    {
        var unsafeMembers = TorchSharpMembersThatConvert();
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

    /// <summary>
    /// TorchSharp's methods (by metadata token) that make a Scalar from a number — <c>op_Implicit</c> to Scalar, or
    /// <c>ToScalar</c> — or call one that does, transitively within TorchSharp.
    /// </summary>
    internal static Dictionary<int, MethodDefinition> TorchSharpMembersThatConvert()
    {
        using var module = ModuleDefinition.ReadModule(typeof(TorchSharp.Scalar).Assembly.Location);
        var methods = module.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody).ToList();
        bool MakesScalar(MethodReference callee) =>
            (callee.Name == "op_Implicit" && callee.ReturnType.FullName == "TorchSharp.Scalar") ||
            (callee.Name == "ToScalar" && callee.DeclaringType.FullName == "TorchSharp.ScalarExtensionMethods");
        var calls = methods.ToDictionary(m => m, m => m.Body.Instructions
            .Where(i => i.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj && i.Operand is MethodReference)
            .Select(i => (MethodReference)i.Operand).ToList());
        var converting = methods.Where(m => calls[m].Any(MakesScalar) && !MakesScalar(m) && !Exempt(m)).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var m in methods)
                if (!converting.Contains(m) && !MakesScalar(m) && !Exempt(m) && calls[m].Any(c => c.Resolve() is { } d && converting.Contains(d))) { converting.Add(m); grew = true; }
        }
        // Scalar's own conversions are what the library replaces with Scalars.Of; they are flagged at the call site.
        return converting.ToDictionary(m => m.MetadataToken.ToInt32());
    }

    /// <summary>
    /// Members that convert a number only on a path the library never takes: <c>torch.arange(start, stop, step, dtype,
    /// …)</c> with all three Scalars given calls a typed arange that converts only for complex dtypes.
    /// </summary>
    private static bool Exempt(MethodDefinition m) =>
        m.Name == "arange" && m.DeclaringType.FullName == "TorchSharp.torch" && m.Parameters.Count(p => p.ParameterType.Name == "Scalar") == 3;

    /// <summary>"file:line what" for each implicit number → Scalar conversion, and each call of a converting TorchSharp member, in the .cs files under <paramref name="root"/>.</summary>
    internal static List<string> Violations(string root)
    {
        var trees = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), new CSharpParseOptions(LanguageVersion.Preview), path: Path.GetRelativePath(root, f)))
            .ToList();
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName).Select(g => MetadataReference.CreateFromFile(g.First()));
        var compilation = CSharpCompilation.Create("probe", trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        var scalar = compilation.GetTypeByMetadataName("TorchSharp.Scalar")!;
        var torchSharp = scalar.ContainingAssembly;
        var converting = TorchSharpMembersThatConvert();
        var found = new List<string>();
        foreach (var tree in trees)
        {
            var model = compilation.GetSemanticModel(tree);
            void Flag(IOperation at, string what) => found.Add($"{tree.FilePath}:{tree.GetLineSpan(at.Syntax.Span).StartLinePosition.Line + 1} {what}: {at.Syntax}");
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                if (model.GetOperation(node) is not { Parent: null } body) continue;          // a body, an initializer: a root
                foreach (var op in body.DescendantsAndSelf())
                {
                    var callee = op switch
                    {
                        IConversionOperation { IsImplicit: true, OperatorMethod: { } m } when SymbolEqualityComparer.Default.Equals(m.ReturnType, scalar) => m,
                        IInvocationOperation i => i.TargetMethod,
                        IBinaryOperation b => b.OperatorMethod,
                        IUnaryOperation u => u.OperatorMethod,
                        ICompoundAssignmentOperation c => c.OperatorMethod,
                        IObjectCreationOperation o => o.Constructor,
                        IPropertyReferenceOperation p => p.Property.GetMethod,
                        _ => null,
                    };
                    if (callee is null || !SymbolEqualityComparer.Default.Equals(callee.ContainingAssembly, torchSharp)) continue;
                    if (op is IConversionOperation) Flag(op, "implicit Scalar");
                    else if (converting.TryGetValue(callee.OriginalDefinition.MetadataToken, out var inside)) Flag(op, $"{inside.DeclaringType.Name}.{inside.Name} converts a number inside TorchSharp");
                }
            }
        }
        return found.Distinct().ToList();
    }
}
