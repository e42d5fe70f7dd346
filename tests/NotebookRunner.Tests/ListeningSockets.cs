using System.Globalization;
using System.Net;

namespace NotebookRunner.Tests;

/// <summary>The TCP sockets in LISTEN state owned by a process tree, read from /proc (Linux): nothing is sent anywhere.</summary>
internal static class ListeningSockets
{
    public sealed record Listener(int Pid, IPAddress Address, int Port);

    public static List<Listener> Of(int rootPid)
    {
        var pids = Descendants(rootPid).Prepend(rootPid).ToList();
        var inodes = new Dictionary<string, int>();
        foreach (var pid in pids)
        {
            try
            {
                foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes[target[8..^1]] = pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        var result = new List<Listener>();
        foreach (var (table, v6) in new[] { ("/proc/net/tcp", false), ("/proc/net/tcp6", true) })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[3] != "0A" || !inodes.TryGetValue(f[9], out var pid)) continue;   // 0A = LISTEN
                var (hex, port) = (f[1].Split(':')[0], int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber));
                result.Add(new Listener(pid, Address(hex, v6), port));
            }
        }
        return result;
    }

    private static IPAddress Address(string hex, bool v6)
    {
        var bytes = Convert.FromHexString(hex);
        if (!v6) { Array.Reverse(bytes); return new IPAddress(bytes); }
        for (int i = 0; i < 16; i += 4) Array.Reverse(bytes, i, 4);                     // four host-order 32-bit words
        return new IPAddress(bytes);
    }

    private static IEnumerable<int> Descendants(int pid)
    {
        var children = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var candidate)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (parent == pid) children.Add(candidate);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        return children.SelectMany(c => Descendants(c).Prepend(c));
    }

    public static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(address) || address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(address.MapToIPv4());
}
