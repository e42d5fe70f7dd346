using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;

namespace NotebookRunner;

/// <summary>Reads a managed resource out of an assembly file without loading the assembly.</summary>
public static class EmbeddedResource
{
    public static string ReadText(string assemblyPath, Func<string, bool> select)
    {
        if (!File.Exists(assemblyPath)) throw new FileNotFoundException($"{assemblyPath} is missing; rebuild the runner (dotnet build src/NotebookRunner)", assemblyPath);
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            var name = metadata.GetString(resource.Name);
            if (!resource.Implementation.IsNil || !select(name)) continue;
            var directory = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
            var reader = directory.GetReader((int)resource.Offset, directory.Length - (int)resource.Offset);
            int length = reader.ReadInt32();
            return Encoding.UTF8.GetString(reader.ReadBytes(length));
        }
        throw new InvalidOperationException($"{assemblyPath} has no matching embedded resource");
    }
}
