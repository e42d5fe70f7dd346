using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace EfficientAttention.Notebooks;

/// <summary>
/// The first call of every notebook: <c>NotebookSession.Start()</c> makes TorchSharp load (the library's patched
/// native shim), lets Plotly.NET load in the .NET Interactive kernel and registers how charts display.
/// </summary>
/// <remarks>
/// The kernel (dotnet-interactive 1.0.712001) ships FSharp.Core 10.0, while Plotly.NET 6.0.0 references FSharp.Core
/// 10.1; the runtime refuses the newer version where the older is already loaded ("Could not load file or assembly
/// 'FSharp.Core, Version=10.1.0.0'"). <see cref="BindFSharpCore"/> answers that request with the FSharp.Core that is
/// loaded (or, where none is, the copy beside this assembly). It is registered when this assembly loads, before any
/// Plotly.NET type can be touched.
/// </remarks>
public static class NotebookSession
{
    private static int started;

#pragma warning disable CA2255 // deliberate: the binding must exist before any Plotly.NET type loads
    [ModuleInitializer]
    internal static void Initialize() => AssemblyLoadContext.Default.Resolving += BindFSharpCore;
#pragma warning restore CA2255

    /// <summary>Prepares the session (idempotent): TorchSharp's natives, FSharp.Core binding, chart display.</summary>
    public static void Start()
    {
        TorchRuntime.EnsureLoaded();
        if (Interlocked.Exchange(ref started, 1) == 0) ChartDisplay.Register();
    }

    /// <summary>
    /// Resolves FSharp.Core of any version to the one loaded in the process; else to the one the host application
    /// ships (a .NET Interactive host has one); else to the copy beside this assembly.
    /// </summary>
    internal static Assembly? BindFSharpCore(AssemblyLoadContext context, AssemblyName name)
    {
        if (name.Name != "FSharp.Core") return null;
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core");
        if (loaded is not null) return loaded;
        try { return context.LoadFromAssemblyName(new AssemblyName("FSharp.Core")); }
        catch (IOException) { }
        var beside = Path.Combine(Path.GetDirectoryName(typeof(NotebookSession).Assembly.Location)!, "FSharp.Core.dll");
        return File.Exists(beside) ? context.LoadFromAssemblyPath(beside) : null;
    }
}
