namespace EfficientAttention;

/// <summary>
/// Writes files through a temporary file in the same folder and a rename, so readers never see half a file and a
/// failed write (an exception, a failed check) leaves nothing behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>; <paramref name="check"/> may reject the temporary file by throwing.</summary>
    public static void Write(string path, Action<Stream> write, Action<string>? check = null)
    {
        var tmp = TemporaryBeside(path);
        try
        {
            using (var stream = File.Create(tmp)) write(stream);
            check?.Invoke(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }

    /// <summary>The asynchronous form of <see cref="Write"/> (downloads).</summary>
    public static async Task WriteAsync(string path, Func<Stream, Task> write, Action<string>? check = null)
    {
        var tmp = TemporaryBeside(path);
        try
        {
            await using (var stream = File.Create(tmp)) await write(stream);
            check?.Invoke(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8.</summary>
    public static void WriteText(string path, string text) => Write(path, stream => { using var writer = new StreamWriter(stream); writer.Write(text); });

    private static string TemporaryBeside(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }
}
