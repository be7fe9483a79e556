using System.Text;
using Tmds.Linux;

namespace BpfAgent.Security;

/// <summary>
/// The rule OpenSSH applies to its keys, for the files that decide what the agent loads into the kernel
/// (config files, BPF objects): the file and every directory above it must be owned by root or the agent's
/// own user and not writable by group or others, and no symbolic link on the way may belong to anyone else.
/// A world-writable directory with the sticky bit (/tmp) is accepted when the entry below it is ours, since
/// nobody else can then replace that entry.
/// </summary>
public static unsafe class FileTrust
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFLNK = 0xA000;
    private const uint S_ISVTX = 0x200;
    private const uint GroupOrOtherWrite = 0x12; // 020 | 002

    /// <summary>Null when <paramref name="path"/> can be trusted, else the reason (naming the offending path).</summary>
    public static string? Check(string path)
    {
        uint self = LibC.geteuid();
        string current = Path.GetFullPath(path);
        for (int hops = 0; hops < 40; hops++)
        {
            (string? resolved, string? problem) = FollowOneLink(current, self);
            if (problem is not null)
            {
                return problem;
            }

            if (resolved is null)
            {
                return CheckChain(current, self);
            }

            current = resolved;
        }

        return $"{path}: too many symbolic links";
    }

    // Finds the first symlink among the components of path; returns the path with it replaced by its target.
    private static (string? Resolved, string? Problem) FollowOneLink(string path, uint self)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var prefix = new StringBuilder();
        for (int i = 0; i < parts.Length; i++)
        {
            prefix.Append('/').Append(parts[i]);
            string p = prefix.ToString();
            if (!TryLstat(p, out stat st))
            {
                return (null, $"{p}: does not exist or cannot be examined");
            }

            if (((uint)st.st_mode & S_IFMT) != S_IFLNK)
            {
                continue;
            }

            if ((uint)st.st_uid != 0 && (uint)st.st_uid != self)
            {
                return (null, $"{p}: is a symbolic link owned by uid {(uint)st.st_uid}; only root's links are followed");
            }

            string? target = new FileInfo(p).LinkTarget;
            if (target is null)
            {
                return (null, $"{p}: cannot read the symbolic link");
            }

            string baseDir = Path.GetDirectoryName(p) ?? "/";
            string rest = string.Join('/', parts.Skip(i + 1));
            string resolved = Path.GetFullPath(target, baseDir);
            return (rest.Length == 0 ? resolved : Path.Combine(resolved, rest), null);
        }

        return (null, null);
    }

    private static string? CheckChain(string path, uint self)
    {
        if (!TryLstat(path, out stat st))
        {
            return $"{path}: does not exist or cannot be examined";
        }

        string? problem = CheckEntry(path, st, self);
        if (problem is not null)
        {
            return problem;
        }

        string child = path;
        stat childStat = st;
        for (string? dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (!TryLstat(dir, out stat d))
            {
                return $"{dir}: cannot be examined";
            }

            uint uid = (uint)d.st_uid;
            uint mode = (uint)d.st_mode;
            if (uid != 0 && uid != self)
            {
                return $"{dir}: directory owned by uid {uid}, not root; whoever owns it can replace {path}";
            }

            if ((mode & GroupOrOtherWrite) != 0)
            {
                bool childOurs = (uint)childStat.st_uid == 0 || (uint)childStat.st_uid == self;
                if ((mode & S_ISVTX) == 0 || !childOurs)
                {
                    return $"{dir}: directory is writable by group or others (mode {Convert.ToString(mode & 0xFFF, 8)}); anyone there can replace {child}";
                }
            }

            child = dir;
            childStat = d;
            if (dir == "/")
            {
                break;
            }
        }

        return null;
    }

    private static string? CheckEntry(string path, stat st, uint self)
    {
        uint uid = (uint)st.st_uid;
        uint mode = (uint)st.st_mode;
        if (uid != 0 && uid != self)
        {
            return $"{path}: owned by uid {uid}, not root or the agent's user";
        }

        if ((mode & GroupOrOtherWrite) != 0)
        {
            return $"{path}: writable by group or others (mode {Convert.ToString(mode & 0xFFF, 8)}); chmod go-w {path}";
        }

        return null;
    }

    private static bool TryLstat(string path, out stat st)
    {
        fixed (byte* p = Encoding.UTF8.GetBytes(path + "\0"))
        fixed (stat* s = &st)
        {
            return LibC.lstat(p, s) == 0;
        }
    }
}
