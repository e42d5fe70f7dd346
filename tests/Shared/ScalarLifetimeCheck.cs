using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Operations;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace EfficientAttention.Tests.Shared;

/// <summary>
/// Finds the places in a project's sources that hand libtorch a number the garbage collector may free during the call:
/// every implicit number → TorchSharp <c>Scalar</c> conversion, and every call of a TorchSharp member that makes such a
/// Scalar inside (found in TorchSharp.dll's IL). Used by the test project of each source project, with that project's
/// references loaded (the sources must compile here: what does not bind cannot be checked).
/// </summary>
internal static class ScalarLifetimeCheck
{
    /// <summary>
    /// TorchSharp's methods (by metadata token) that make a Scalar from a number — <c>op_Implicit</c> to Scalar, or
    /// <c>ToScalar</c> — or call one that does, transitively within TorchSharp.
    /// </summary>
    public static Dictionary<int, MethodDefinition> TorchSharpMembersThatConvert()
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

    /// <summary>Fails, listing file and line, when the sources of <c>src/&lt;project&gt;</c> make a collectable Scalar.</summary>
    public static void AssertNone(string project)
    {
        var found = Violations(Path.Combine(DatasetSetup.RepositoryRoot(), "src", project));
        Xunit.Assert.True(found.Count == 0, $"{found.Count} places in {project} make a collectable Scalar (pass Scalars.Of(x) / Scalars.One explicitly):\n" + string.Join("\n", found.Take(80)));
    }

    /// <summary>The global usings that the .NET SDK generates for a project with <c>ImplicitUsings</c> enabled.</summary>
    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    /// <summary>"file:line what" for each implicit number → Scalar conversion, and each call of a converting TorchSharp member, in the .cs files under <paramref name="root"/>.</summary>
    public static List<string> Violations(string root)
    {
        // The project's own files, and those its .csproj links from elsewhere (<Compile Include="../Shared/…" />).
        var linked = Directory.EnumerateFiles(root, "*.csproj")
            .SelectMany(p => System.Xml.Linq.XDocument.Load(p).Descendants("Compile"))
            .Select(c => (string?)c.Attribute("Include")).OfType<string>()
            .Select(f => Path.GetFullPath(Path.Combine(root, f.Replace('\\', Path.DirectorySeparatorChar))));
        var trees = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Concat(linked)
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), new CSharpParseOptions(LanguageVersion.Preview), path: Path.GetRelativePath(root, f)))
            .ToList();
        // The SDK's implicit global usings (ImplicitUsings): without them every `Math.…` or LINQ call fails to bind, and an
        // operator whose operand does not bind has no method to check — the check would miss it silently.
        trees.Add(CSharpSyntaxTree.ParseText(string.Concat(ImplicitUsings.Select(u => $"global using {u};\n")), new CSharpParseOptions(LanguageVersion.Preview), path: "GlobalUsings.g.cs"));
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName).Select(g => MetadataReference.CreateFromFile(g.First()));
        // Named as the project (its folder), so that InternalsVisibleTo grants it what it grants the project; an
        // executable if it has top-level statements.
        bool executable = trees.Any(t => t.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any());
        var compilation = CSharpCompilation.Create(Path.GetFileName(Path.TrimEndingDirectorySeparator(root)), trees, references,
            new CSharpCompilationOptions(executable ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        // CS8795: a [GeneratedRegex] partial method, whose body a source generator writes (no TorchSharp inside).
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").ToList();
        if (errors.Count > 0)                                                  // what does not bind cannot be checked
            throw new InvalidOperationException($"the sources under {root} do not compile for the check ({errors.Count} errors):\n" + string.Join("\n", errors.Take(20)));
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
