using System.Text.Json.Nodes;
using NotebookRunner;

// The part of .NET Interactive's API that notebooks call, for scripts run by this runner. The names and namespaces
// match the real kernel's (Microsoft.DotNet.Interactive.Kernel.display, DisplayExtensions.Display, DisplayedValue),
// so a notebook compiles unchanged in both.
namespace Microsoft.DotNet.Interactive
{
    /// <summary>The handle returned by <c>display(x)</c>: <see cref="Update"/> replaces that output in place.</summary>
    public sealed class DisplayedValue
    {
        private readonly OutputSink sink;
        private readonly JsonObject output;
        private readonly string[] mimeTypes;

        internal DisplayedValue(OutputSink sink, JsonObject output, string[] mimeTypes) => (this.sink, this.output, this.mimeTypes) = (sink, output, mimeTypes);

        public void Update(object? value) => sink.Update(output, value, mimeTypes);
    }

    public static class DisplayExtensions
    {
        /// <summary>Displays the value as a new output of the running cell.</summary>
        public static DisplayedValue Display(this object? value, params string[] mimeTypes) => ScriptHost.Display(value, mimeTypes);

        /// <summary>Displays a sequence as a table of its public properties (text/csv and text/html), like the kernel's DisplayTable.</summary>
        public static DisplayedValue DisplayTable<T>(this IEnumerable<T> rows) => ScriptHost.Display(new TabularData<T>(rows), ["text/csv", "text/html"]);
    }

    /// <summary>LaTeX to be rendered as math (text/latex), as in the kernel: <c>(LaTeXString)@"\frac{a}{b}"</c>.</summary>
    public sealed class LaTeXString(string latex)
    {
        public static explicit operator LaTeXString(string latex) => new(latex);
        public override string ToString() => latex;
    }

    /// <summary>Inline math, displayed as text/latex wrapped in $$ … $$, as in the kernel.</summary>
    public sealed class MathString(string math)
    {
        public static explicit operator MathString(string math) => new(math);
        public override string ToString() => math;
    }

    /// <summary>Rows shown by <see cref="DisplayExtensions.DisplayTable"/>.</summary>
    public sealed class TabularData<T>(IEnumerable<T> rows)
    {
        public IReadOnlyList<T> Rows { get; } = rows.ToList();
        public System.Reflection.PropertyInfo[] Columns { get; } = typeof(T).GetProperties().Where(p => p.GetIndexParameters().Length == 0).ToArray();
    }
}

namespace NotebookRunner
{
    /// <summary>What every cell sees as globals: <c>display(x)</c> as in the kernel.</summary>
    public class ScriptGlobals
    {
#pragma warning disable IDE1006 // the kernel's name is lower case
        public Microsoft.DotNet.Interactive.DisplayedValue display(object? value, params string[] mimeTypes) => ScriptHost.Display(value, mimeTypes);
#pragma warning restore IDE1006
    }

    /// <summary>The sink of the cell that is running (cells run one at a time, on one thread).</summary>
    public static class ScriptHost
    {
        private static volatile OutputSink? current;

        public static OutputSink? Current { get => current; set => current = value; }

        public static Microsoft.DotNet.Interactive.DisplayedValue Display(object? value, string[] mimeTypes)
        {
            var sink = current ?? throw new InvalidOperationException("display() was called while no notebook cell is running.");
            var output = sink.Display(value, mimeTypes);
            return new Microsoft.DotNet.Interactive.DisplayedValue(sink, output, mimeTypes);
        }
    }
}
