using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Events;

namespace NotebookRunner;

/// <summary>
/// Kernel extensions shipped in NuGet packages (<c>interactive-extensions/dotnet/*.dll</c>, e.g. Plotly.NET.Interactive),
/// loaded after the cell that added the package, as the kernel does.
/// </summary>
public static class PackageExtensions
{
    public static void Use(CompositeKernel kernel)
    {
        var added = new ConcurrentQueue<string>();
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        kernel.RegisterForDisposal(kernel.KernelEvents.Subscribe(e =>
        {
            if (e is PackageAdded { PackageReference.PackageRoot: { } root }) added.Enqueue(root);
        }));
        kernel.AddMiddleware(async (command, context, next) =>
        {
            await next(command, context);
            while (added.TryDequeue(out var root))
            {
                var folder = Path.Combine(root, "interactive-extensions", "dotnet");
                if (!Directory.Exists(folder)) continue;
                foreach (var dll in Directory.GetFiles(folder, "*.dll").Order(StringComparer.Ordinal))
                {
                    if (!loaded.Add(AssemblyName.GetAssemblyName(dll).FullName)) continue;
                    var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(dll);
                    foreach (var type in assembly.ExportedTypes.Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IKernelExtension).IsAssignableFrom(t)))
                    {
                        try { await ((IKernelExtension)Activator.CreateInstance(type)!).OnLoadAsync(kernel); }
                        catch (Exception ex)
                        {
                            context.Publish(new ErrorProduced($"Failed to load kernel extension \"{type.Name}\" from assembly {assembly.Location}: {ex.Message}", context.Command));
                        }
                    }
                }
            }
        });
    }
}
