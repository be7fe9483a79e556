using Tmds.Linux;

namespace BpfAgent.ProgramSets;

/// <summary>
/// The bpffs directories a set pins into (&lt;PinRoot&gt;/&lt;set&gt;/). bpffs may be mounted world-writable,
/// so a directory is only used when it is on bpffs, a real directory (not a symlink), owned by root (or this
/// process's user) and mode 0700; a planted one is refused, never followed.
/// </summary>
internal static unsafe class PinDirectory
{
    private const long BpfFsMagic = 0xcafe4a11;
    private const int SysStatfs = 137; // x86-64; arm64 is 43

    public static void Prepare(string root, string directory)
    {
        string mount = Path.GetDirectoryName(root.TrimEnd('/')) ?? "/sys/fs/bpf";
        if (!IsBpffs(mount))
        {
            throw new PinDirectoryException(mount, "is not a mounted bpffs",
                $"mount it (mount -t bpf bpf {mount}) or run the agent through its systemd unit, which does");
        }

        foreach (string dir in new[] { root, directory })
        {
            if (!Directory.Exists(dir) && !File.Exists(dir) && new FileInfo(dir).LinkTarget is null)
            {
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            Check(dir);
        }
    }

    /// <summary>Refuses anything but a root-owned (or own-user) real directory of mode 0700.</summary>
    public static void Check(string dir)
    {
        stat st;
        int rc;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
        {
            rc = LibC.lstat(p, &st);
        }

        if (rc != 0)
        {
            throw new PinDirectoryException(dir, $"cannot be examined (errno {LibC.errno})", "check that bpffs is mounted and the path is right");
        }

        uint mode = (uint)st.st_mode;
        if ((mode & 0xF000) == 0xA000)
        {
            throw new PinDirectoryException(dir, "is a symbolic link", "remove it; the agent creates the directory itself");
        }

        if ((mode & 0xF000) != 0x4000)
        {
            throw new PinDirectoryException(dir, "is not a directory", "remove it; the agent creates the directory itself");
        }

        uint uid = (uint)st.st_uid;
        if (uid != 0 && uid != (uint)LibC.geteuid())
        {
            throw new PinDirectoryException(dir, $"is owned by uid {uid}, not root or the agent's user", "remove it (someone else created it); the agent creates it owned by root, mode 0700");
        }

        if ((mode & 0x1FF) != 0x1C0)
        {
            throw new PinDirectoryException(dir, $"has mode {Convert.ToString(mode & 0x1FF, 8)}, not 0700", $"chmod 0700 {dir}, or remove it and let the agent create it");
        }
    }

    /// <summary>
    /// Pins of the same map with another schema hash: removed (and logged, since their state is lost) when
    /// <paramref name="replace"/>, else an error naming them.
    /// </summary>
    public static void ResolveIncompatible(string directory, IEnumerable<string> expectedPins, bool replace, Serilog.ILogger log, string set)
    {
        foreach (string expected in expectedPins)
        {
            string file = Path.GetFileName(expected);
            string prefix = file[..(file.LastIndexOf('-') + 1)];
            foreach (string old in Directory.GetFiles(directory, prefix + "*"))
            {
                if (old == expected || Path.GetFileName(old).Length != file.Length)
                {
                    continue;
                }

                if (!replace)
                {
                    throw new PinDirectoryException(old, "holds a pinned map whose layout differs from the object's",
                        "set \"pinning\": { \"replaceIncompatible\": true } to replace it (its state is lost), or remove the pin");
                }

                File.Delete(old);
                log.Warning("Set {Set}: removed incompatible pinned map {Pin}; its state is lost", set, old);
            }
        }
    }

    private static bool IsBpffs(string path)
    {
        byte* buf = stackalloc byte[256];
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            int nr = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? 43 : SysStatfs;
            if ((int)LibC.syscall(nr, p, buf) != 0)
            {
                return false;
            }
        }

        return *(long*)buf == BpfFsMagic;
    }
}

/// <summary>A pin directory or pin that is unsafe or incompatible to use.</summary>
public sealed class PinDirectoryException(string path, string problem, string fix)
    : Exception($"{path}: {problem}. Fix: {fix}")
{
    public string PathName { get; } = path;
}
