using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace EfficientAttention.Notebooks;

/// <summary>
/// The first call of every notebook: <c>NotebookSession.Start()</c> makes TorchSharp load (the library's patched
/// native shim), lets Plotly.NET load in the .NET Interactive kernel, registers how charts display, and keeps the
/// kernel from repeating a harmless compiler warning about TorchSharp (see <see cref="QuietAssemblyUnificationWarnings"/>).
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
        ChartDisplay.Register();                 // again after a kernel's formatter reset: registering twice is harmless
        if (Interlocked.Exchange(ref started, 1) == 0) QuietAssemblyUnificationWarnings();
    }

    /// <summary>
    /// TorchSharp 0.107 is compiled against .NET 8's System.Runtime.Numerics; the kernel compiles cells against .NET 10's,
    /// and every cell that binds a TorchSharp overload involving it prints "warning CS1701: Assuming assembly reference …
    /// matches identity …" to standard error (an SDK build suppresses CS1701/CS1702 with NoWarn; the kernel offers no
    /// such option). Where the running kernel is .NET Interactive's C# kernel, this lowers its cells' warning level to 1
    /// (CS1701 is a level-2 warning; level-1 warnings, nullability among them, stay), through the kernel's script
    /// options field. Returns false, changing nothing, where that field is not found (another host or kernel version).
    /// </summary>
    public static bool QuietAssemblyUnificationWarnings()
    {
        var kernelType = Type.GetType("Microsoft.DotNet.Interactive.Kernel, Microsoft.DotNet.Interactive");
        var kernel = kernelType?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static)?.GetValue(null);
        var field = kernel?.GetType().GetField("_scriptOptions", BindingFlags.NonPublic | BindingFlags.Instance);
        var options = field?.GetValue(kernel);
        var withWarningLevel = options?.GetType().GetMethod("WithWarningLevel", [typeof(int)]);
        if (options is null || withWarningLevel is null) return false;
        field!.SetValue(kernel, withWarningLevel.Invoke(options, [1]));
        return true;
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
