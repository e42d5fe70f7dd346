namespace NotebookRunner;

/// <summary>The first code cell of every notebook of this course (the <c>new</c> command writes it).</summary>
public static class NotebookTemplate
{
    /// <summary>
    /// References the built notebook-support project (its output folder holds the library, TorchSharp with its patched
    /// native shim, Plotly.NET and FSharp.Core) and starts the session.
    /// </summary>
    public const string SetupCell = """
        #r "../src/EfficientAttention.Notebooks/bin/Release/net10.0/TorchSharp.dll"
        #r "../src/EfficientAttention.Notebooks/bin/Release/net10.0/EfficientAttention.dll"
        #r "../src/EfficientAttention.Notebooks/bin/Release/net10.0/Plotly.NET.dll"
        #r "../src/EfficientAttention.Notebooks/bin/Release/net10.0/EfficientAttention.Notebooks.dll"
        using System.IO;
        using EfficientAttention;
        using EfficientAttention.Notebooks;
        using TorchSharp;
        using static TorchSharp.torch;
        NotebookSession.Start();
        """;
}
