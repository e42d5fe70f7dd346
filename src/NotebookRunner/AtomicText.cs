namespace NotebookRunner;

/// <summary>
/// Writes a text file through a temporary file beside it and a rename, so the target is never half-written. (The
/// runner does not reference the library, whose <c>AtomicFile</c> does the same for the notebooks and benchmarks.)
/// </summary>
internal static class AtomicText
{
    public static void Write(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + $".{Guid.NewGuid():N}.tmp";
        try { File.WriteAllText(tmp, text); File.Move(tmp, full, overwrite: true); }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }
}
