using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NotebookRunner;

/// <summary>
/// Papermill-style parameters: the cell tagged <c>parameters</c> declares them with types and default values
/// (<c>bool Quick = false;</c>, <c>int Steps = 2000;</c>); overrides go into a new cell tagged <c>injected-parameters</c>
/// inserted right after it, redeclaring each overridden variable with its declared type. <c>--quick</c> is
/// <c>--param Quick=true</c>; notebooks derive their sizes from <c>Quick</c> in later cells.
/// </summary>
public static class Parameters
{
    public sealed class ParameterException(string message) : Exception(message);

    public static void Inject(Notebook notebook, IReadOnlyDictionary<string, string> values, string name)
    {
        if (values.Count == 0) return;
        var cells = notebook.CellObjects.ToList();
        int index = cells.FindIndex(c => c["metadata"]?["tags"] is JsonArray tags && tags.Any(t => t?.GetValue<string>() == "parameters"));
        if (index < 0)
            throw new ParameterException($"notebook {name}: no cell is tagged \"parameters\", so {string.Join(", ", values.Keys)} cannot be set.");
        var declared = Declarations(Notebook.Source(cells[index]));
        var lines = new List<string> { "// Parameters injected by the notebook runner (--param / --quick)." };
        foreach (var (key, value) in values)
        {
            if (!declared.TryGetValue(key, out var type))
                throw new ParameterException($"notebook {name}: parameter {key} is not declared in the parameters cell (it declares: {string.Join(", ", declared.Keys)}).");
            lines.Add($"{type} {key} = {Literal(type, value, key, name)};");
        }
        var cell = new JsonObject
        {
            ["cell_type"] = "code", ["execution_count"] = null, ["id"] = Guid.NewGuid().ToString("N")[..12],
            ["metadata"] = new JsonObject
            {
                ["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" }, ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
                ["tags"] = new JsonArray("injected-parameters"),
            },
            ["outputs"] = new JsonArray(), ["source"] = Notebook.Lines(string.Join("\n", lines)),
        };
        notebook.Cells.Insert(index + 1, cell);
    }

    /// <summary>name → declared type of each top-level variable in the parameters cell.</summary>
    public static Dictionary<string, string> Declarations(string source)
    {
        var root = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script)).GetCompilationUnitRoot();
        var result = new Dictionary<string, string>();
        foreach (var declaration in root.DescendantNodes().OfType<VariableDeclarationSyntax>())
        {
            if (declaration.Parent is not (LocalDeclarationStatementSyntax or FieldDeclarationSyntax)) continue;
            foreach (var v in declaration.Variables)
            {
                var type = declaration.Type.ToString();
                if (type == "var" && v.Initializer?.Value is LiteralExpressionSyntax literal)
                    type = literal.Kind() switch
                    {
                        SyntaxKind.TrueLiteralExpression or SyntaxKind.FalseLiteralExpression => "bool",
                        SyntaxKind.StringLiteralExpression => "string",
                        _ => literal.Token.Value switch { int => "int", long => "long", double => "double", float => "float", decimal => "decimal", _ => "var" },
                    };
                result[v.Identifier.Text] = type;
            }
        }
        return result;
    }

    private static string Literal(string type, string value, string key, string notebook)
    {
        var culture = CultureInfo.InvariantCulture;
        bool ok = type switch
        {
            "bool" => bool.TryParse(value, out _),
            "int" => int.TryParse(value, NumberStyles.Integer, culture, out _),
            "long" => long.TryParse(value, NumberStyles.Integer, culture, out _),
            "double" or "float" or "decimal" => double.TryParse(value, NumberStyles.Float, culture, out _),
            _ => true,
        };
        if (!ok) throw new ParameterException($"notebook {notebook}: parameter {key} = '{value}' is not a valid {type}.");
        return type switch
        {
            "bool" => value.ToLowerInvariant(),
            "string" => SymbolDisplay.FormatLiteral(value, quote: true),
            "float" => value + "f",
            "decimal" => value + "m",
            "long" => value + "L",
            _ => value,
        };
    }
}
