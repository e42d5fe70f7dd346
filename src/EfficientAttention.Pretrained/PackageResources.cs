using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace EfficientAttention.Pretrained;

/// <summary>
/// Finds a NuGet package in the local package cache and reads resources embedded in one of its assemblies — from the
/// file, with <see cref="PEReader"/>, never loading the assembly (its dependencies are not needed to read its resources).
/// </summary>
public static class PackageResources
{
    /// <summary>
    /// The path of <paramref name="relativePath"/> inside package <paramref name="id"/> <paramref name="version"/>: looked
    /// up in $NUGET_PACKAGES, the package root this library was built with, and ~/.nuget/packages, in that order.
    /// </summary>
    public static string Find(string id, string version, string relativePath)
    {
        var tried = Roots().Select(root => Path.Combine(root, id.ToLowerInvariant(), version.ToLowerInvariant(), relativePath)).Distinct().ToList();
        return tried.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            $"NuGet package {id} {version} is not in the package cache (looked for {string.Join(", ", tried)}); " +
            "build the solution (dotnet build) to restore it, or set NUGET_PACKAGES to the cache that holds it.");
    }

    private static IEnumerable<string> Roots()
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } fromEnvironment) yield return fromEnvironment;
        if (BuildMetadata("NuGetPackageRoot") is { Length: > 0 } fromBuild) yield return fromBuild;
        yield return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }

    /// <summary>An [AssemblyMetadata] value this library was built with (the csproj sets them), or null.</summary>
    internal static string? BuildMetadata(string key) =>
        typeof(PackageResources).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;

    /// <summary>The bytes of the manifest resource <paramref name="name"/> embedded in the assembly file <paramref name="assemblyPath"/>.</summary>
    public static byte[] Read(string assemblyPath, string name)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (metadata.GetString(resource.Name) != name) continue;
            if (!resource.Implementation.IsNil)
                throw new InvalidDataException($"resource {name} of {assemblyPath} lives in another file; expected it embedded.");
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            var block = pe.GetSectionData(directory.RelativeVirtualAddress);
            var reader = block.GetReader((int)resource.Offset, directory.Size - (int)resource.Offset);
            int length = reader.ReadInt32();                                    // each resource: 4-byte length, then the bytes
            return reader.ReadBytes(length);
        }
        var names = metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name));
        throw new ArgumentException($"name = {name}: no such resource in {assemblyPath}; it has {string.Join(", ", names)}.", nameof(name));
    }
}
