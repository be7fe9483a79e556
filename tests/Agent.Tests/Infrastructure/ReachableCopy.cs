namespace BpfAgent.Tests;

/// <summary>
/// A copy of a build output directory under /tmp that every user can read and traverse (0755), for tests that
/// run the agent as an unprivileged user: the checkout itself may sit below a 0700 directory. Removed on dispose.
/// </summary>
public sealed class ReachableCopy : IDisposable
{
    private const UnixFileMode Open = (UnixFileMode)0x1ED; // 0755
    private const UnixFileMode Readable = (UnixFileMode)0x1A4; // 0644

    private ReachableCopy(string directory) => Directory = directory;

    public string Directory { get; }

    public static ReachableCopy Of(string source)
    {
        string target = System.IO.Directory.CreateTempSubdirectory("bpf-agent-reachable-").FullName;
        if (!target.StartsWith("/tmp/", StringComparison.Ordinal))
        {
            // TMPDIR may itself be a private directory: /tmp is reachable by everyone.
            System.IO.Directory.Delete(target);
            target = Path.Combine("/tmp", "bpf-agent-reachable-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(target);
        }

        File.SetUnixFileMode(target, Open);
        Copy(source.TrimEnd('/'), target);
        return new ReachableCopy(target);
    }

    private static void Copy(string from, string to)
    {
        foreach (string dir in System.IO.Directory.GetDirectories(from))
        {
            string sub = Path.Combine(to, Path.GetFileName(dir));
            System.IO.Directory.CreateDirectory(sub);
            File.SetUnixFileMode(sub, Open);
            Copy(dir, sub);
        }

        foreach (string file in System.IO.Directory.GetFiles(from))
        {
            string dest = Path.Combine(to, Path.GetFileName(file));
            File.Copy(file, dest);
            File.SetUnixFileMode(dest, Readable);
        }
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
