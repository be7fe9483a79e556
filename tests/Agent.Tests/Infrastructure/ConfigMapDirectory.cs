using System.Runtime.InteropServices;

namespace BpfAgent.Tests;

/// <summary>
/// A directory laid out as kubelet lays out a mounted ConfigMap, and updated the way it updates one (its
/// AtomicWriter): each version in a timestamped hidden directory (<c>..2026_12_01_22_40_11.123456789</c>), the
/// symbolic link <c>..data</c> to the current one, swapped by renaming <c>..data_tmp</c> over it, and every key a
/// link <c>key -&gt; ..data/key</c>; keys gone from the new version lose their link, then the old version goes.
/// </summary>
public sealed partial class ConfigMapDirectory(string path)
{
    public const string DataLink = "..data";

    private int _version;

    public string Path { get; } = path;

    /// <summary>Writes <paramref name="files"/> (name to content) as the ConfigMap's new content, atomically.</summary>
    public void Write(IReadOnlyDictionary<string, string> files)
    {
        Directory.CreateDirectory(Path);
        string? old = Directory.Exists(System.IO.Path.Combine(Path, DataLink)) ? new FileInfo(System.IO.Path.Combine(Path, DataLink)).LinkTarget : null;
        string version = $"..{DateTime.UtcNow:yyyy_MM_dd_HH_mm_ss}.{++_version:D9}";
        string dir = Directory.CreateDirectory(System.IO.Path.Combine(Path, version)).FullName;
        foreach ((string name, string content) in files)
        {
            File.WriteAllText(System.IO.Path.Combine(dir, name), content);
        }

        string tmp = System.IO.Path.Combine(Path, "..data_tmp");
        File.CreateSymbolicLink(tmp, version);
        Rename(tmp, System.IO.Path.Combine(Path, DataLink)); // the swap

        foreach (string name in files.Keys)
        {
            string link = System.IO.Path.Combine(Path, name);
            if (!File.Exists(link) || new FileInfo(link).LinkTarget is null)
            {
                // A new key, or a plain file (podman's ConfigMap volume) made the link kubelet makes, atomically.
                string tmpLink = System.IO.Path.Combine(Path, ".." + name + "_tmp");
                File.CreateSymbolicLink(tmpLink, System.IO.Path.Combine(DataLink, name));
                Rename(tmpLink, link);
            }
        }

        foreach (string link in Directory.GetFiles(Path).Where(f => !System.IO.Path.GetFileName(f).StartsWith('.') && !files.ContainsKey(System.IO.Path.GetFileName(f))))
        {
            File.Delete(link);
        }

        if (old is not null)
        {
            Directory.Delete(System.IO.Path.Combine(Path, old), recursive: true);
        }
    }

    // rename(2) of the link itself (File.Move follows it to its directory); Tmds.LibC has no rename.
    private static void Rename(string from, string to)
    {
        if (rename(from, to) != 0)
        {
            throw new IOException($"rename {from} -> {to}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string from, string to);
}
