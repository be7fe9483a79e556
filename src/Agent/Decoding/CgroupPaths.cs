using System.Text;
using Tmds.Linux;

namespace BpfAgent.Decoding;

/// <summary>
/// cgroup v2 ids to paths. A cgroup's id (what <c>bpf_get_current_cgroup_id</c> returns) is its directory's inode
/// number on the cgroup2 mount. The table is rebuilt by walking the mount when an id is missing (a cgroup created
/// since the last walk), at most once per <see cref="RescanInterval"/>; each walk replaces the table, so removed
/// cgroups leave it and churn cannot grow it past the cgroups that exist (and never past <see cref="MaxEntries"/>).
/// With <c>followEvents</c> and where fanotify can watch the mount (CAP_SYS_ADMIN, Linux 5.9+), a
/// <see cref="CgroupWatch"/> also keeps the table current between walks: created cgroups are added and removed ones
/// dropped as they happen, and a lost event marks the table stale so the next miss walks at once.
/// Thread-safe: one program set's workers may decode at once.
/// </summary>
public sealed class CgroupPaths : IDisposable
{
    public const string DefaultMount = "/sys/fs/cgroup";

    /// <summary>Most cgroups kept; a host with more resolves the rest to the unknown placeholder.</summary>
    public const int MaxEntries = 100_000;

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly CgroupWatch? _watch;
    private readonly CgroupHandles? _handles;
    private Dictionary<ulong, string> _paths = [];
    private Dictionary<string, ulong> _ids = new(StringComparer.Ordinal);
    private long _lastScan;
    private bool _stale = true;

    /// <param name="followEvents">Keep the table current through fanotify where it can watch the mount; else (or
    /// where it cannot) only walk on a miss.</param>
    /// <param name="resolveByHandle">Look a missing id up by its file handle (<see cref="CgroupHandles"/>) where that
    /// works, instead of walking: a cgroup created within the last walk's second is found too.</param>
    public CgroupPaths(string mount, TimeSpan? rescanInterval = null, TimeProvider? time = null, bool followEvents = false, bool resolveByHandle = false)
    {
        Mount = mount;
        RescanInterval = rescanInterval ?? TimeSpan.FromSeconds(1);
        _time = time ?? TimeProvider.System;
        string? noHandles = null;
        if (resolveByHandle)
        {
            _handles = CgroupHandles.TryOpen(mount, out noHandles);
        }

        string onMiss = _handles is not null ? $"looks each missing id up in {mount} by its file handle"
            : resolveByHandle ? $"walks {mount} on a miss (no file handles: {noHandles})"
            : $"walks {mount} on a miss";
        if (followEvents)
        {
            _watch = CgroupWatch.TryStart(mount, Changed, Lost, out string? why);
            Mode = _watch is null ? $"{onMiss} (no fanotify watch: {why})" : $"follows {mount} through fanotify, {onMiss}";
        }
        else
        {
            Mode = onMiss;
        }
    }

    /// <summary>True where a missing id is looked up by its file handle, not by a walk.</summary>
    public bool ResolvesByHandle => _handles is not null;

    /// <summary>True while a fanotify watch keeps the table current between walks.</summary>
    public bool FollowsEvents => _watch is { Running: true };

    /// <summary>How the table is kept, for the log (with the reason when the watch could not start).</summary>
    public string Mode { get; }

    /// <summary>The cgroup2 mount walked.</summary>
    public string Mount { get; }

    /// <summary>Least time between two walks (a burst of unknown ids costs one walk).</summary>
    public TimeSpan RescanInterval { get; }

    /// <summary>Cgroups in the table now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _paths.Count;
            }
        }
    }

    /// <summary>Walks done so far.</summary>
    public long Scans { get; private set; }

    /// <summary>Missing ids looked up by handle so far.</summary>
    public long Lookups { get; private set; }

    /// <summary>The path of cgroup <paramref name="id"/>, walking the mount again if it is not known and the last walk is old enough.</summary>
    public string? Find(ulong id)
    {
        lock (_gate)
        {
            if (_paths.TryGetValue(id, out string? path))
            {
                return path;
            }

            // By handle: found or not, that is the answer (null: no cgroup has the id now). A full table is walked
            // instead, which drops the removed cgroups the lookups added.
            if (_handles is not null && _paths.Count < MaxEntries)
            {
                path = _handles.PathOf(id);
                if (path is not null)
                {
                    if (_ids.Remove(path, out ulong old))
                    {
                        _paths.Remove(old);
                    }

                    _paths[id] = path;
                    _ids[path] = id;
                }

                Lookups++;
                return path;
            }

            long now = _time.GetTimestamp();
            if (!_stale && _time.GetElapsedTime(_lastScan, now) < RescanInterval)
            {
                return null;
            }

            _lastScan = now;
            _stale = false;
            _paths = Scan();
            _ids = new Dictionary<string, ulong>(_paths.Count, StringComparer.Ordinal);
            foreach ((ulong cgroup, string p) in _paths)
            {
                _ids[p] = cgroup;
            }

            Scans++;
            return _paths.GetValueOrDefault(id);
        }
    }

    /// <summary>Stops the fanotify watch, if any, and closes the mount's handle.</summary>
    public void Dispose()
    {
        _watch?.Dispose();
        _handles?.Dispose();
    }

    // The watch saw directory name under cgroup parent created or removed (events may be merged, so what the
    // directory is now decides): it is looked at, and the table made to agree. cgroup2 refuses renames (EPERM).
    private void Changed(ulong parent, string name)
    {
        lock (_gate)
        {
            if (!_paths.TryGetValue(parent, out string? parentPath))
            {
                // A parent never walked (or the table not walked yet): the next miss walks, unless the table is full
                // (then the parent was left out on purpose and a walk would not add it).
                _stale |= _paths.Count < MaxEntries;
                return;
            }

            string path = Path.Join(parentPath, name);
            if (_ids.Remove(path, out ulong old))
            {
                _paths.Remove(old);
            }

            if (Inode(path) is ulong id && _paths.Count < MaxEntries)
            {
                if (_paths.Remove(id, out string? was))
                {
                    _ids.Remove(was);
                }

                _paths[id] = path;
                _ids[path] = id;
            }
        }
    }

    private void Lost()
    {
        lock (_gate)
        {
            _stale = true;
        }
    }

    private Dictionary<ulong, string> Scan()
    {
        var paths = new Dictionary<ulong, string>();
        var pending = new Stack<string>();
        pending.Push(Mount);
        while (pending.Count > 0 && paths.Count < MaxEntries)
        {
            string dir = pending.Pop();
            if (Inode(dir) is ulong ino)
            {
                paths[ino] = dir;
            }

            try
            {
                foreach (string sub in Directory.EnumerateDirectories(dir))
                {
                    pending.Push(sub);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // removed while walking, or not ours to read
            }
        }

        return paths;
    }

    /// <summary>The inode number of <paramref name="path"/> (a cgroup2 directory's cgroup id), or null.</summary>
    public static unsafe ulong? Inode(string path)
    {
        stat st;
        fixed (byte* p = Encoding.UTF8.GetBytes(path + "\0"))
        {
            return LibC.lstat(p, &st) == 0 ? (ulong)st.st_ino : null;
        }
    }

    /// <summary>Where cgroup2 is mounted, from /proc/self/mountinfo (on a hybrid host: /sys/fs/cgroup/unified), or null.</summary>
    public static string? FindCgroup2Mount(string mountinfo = "/proc/self/mountinfo")
    {
        try
        {
            foreach (string line in File.ReadLines(mountinfo))
            {
                // "36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw": the type follows " - ".
                int dash = line.IndexOf(" - ", StringComparison.Ordinal);
                string[] head = line[..Math.Max(dash, 0)].Split(' ');
                if (dash > 0 && head.Length >= 5 && line.AsSpan(dash + 3).StartsWith("cgroup2 ", StringComparison.Ordinal))
                {
                    return Unescape(head[4]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var b = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                b.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                b.Append(s[i]);
            }
        }

        return b.ToString();
    }

    private static bool IsOctal(string s, int at) => at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
