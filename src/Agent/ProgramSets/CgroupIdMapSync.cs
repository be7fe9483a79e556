using System.Text.RegularExpressions;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Keeps a <see cref="CgroupIdMapConfig"/> map filled: at start (before the programs attach) and then every
/// <see cref="Interval"/>, the cgroup2 mount is walked and every cgroup whose path (as the <c>cgroup</c> decoder
/// writes it) matches a regexp is in the map with value 1; cgroups removed, or no longer matching, leave it. The
/// map never holds more than the cgroups that exist (and at most <see cref="CgroupPaths.MaxEntries"/>).
/// </summary>
public sealed class CgroupIdMapSync : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly BpfMap _map;
    private readonly Regex[] _regexps;
    private readonly string _mount;
    private readonly HashSet<ulong> _present = [];
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private bool _disposed;

    private CgroupIdMapSync(BpfMap map, IReadOnlyList<string> regexps, string mount)
    {
        _map = map;
        _mount = mount;
        _regexps = [.. regexps.Select(r => new Regex(r, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant))];
        Sync();
        _timer = new Timer(_ => Sync(), null, Interval, Interval);
    }

    /// <summary>Cgroups in the map after the last walk.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _present.Count;
            }
        }
    }

    /// <summary>Checks the map and the regexps against the object before load: a hash map of u64 to u64.</summary>
    public static void Check(ProgramSetConfig set, OpenBpfObject open, List<ConfigError> errors)
    {
        foreach (CgroupIdMapConfig c in set.CgroupIdMaps)
        {
            if (!open.TryGetMap(c.Map, out OpenBpfMap map))
            {
                errors.Add(new ConfigError(set.File, $"{c.Key}.name", $"the object has no map '{c.Map}'", "name the BPF_MAP_TYPE_HASH map the program looks cgroup ids up in"));
            }
            else if (map.Type is not (BpfMapType.Hash or BpfMapType.LruHash) || map.KeySize != 8 || map.ValueSize != 8)
            {
                errors.Add(new ConfigError(set.File, $"{c.Key}.name", $"map '{c.Map}' is a {map.Type} map of {map.KeySize}-byte keys and {map.ValueSize}-byte values",
                    "declare it as BPF_MAP_TYPE_HASH with __type(key, u64) and __type(value, u64)"));
            }

            for (int i = 0; i < c.Regexps.Count; i++)
            {
                try
                {
                    _ = new Regex(c.Regexps[i], RegexOptions.NonBacktracking);
                }
                catch (ArgumentException e)
                {
                    errors.Add(new ConfigError(set.File, $"{c.Key}.regexps[{i}]", $"is not a valid regular expression: {e.Message}", "fix the pattern (.NET syntax, no backreferences or lookarounds)"));
                }
            }
        }
    }

    /// <summary>Fills the maps of <paramref name="set"/> now and keeps them in step; dispose to stop.</summary>
    public static List<CgroupIdMapSync> Start(ProgramSetConfig set, BpfObject obj)
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? CgroupPaths.DefaultMount;
        return [.. set.CgroupIdMaps.Select(c => new CgroupIdMapSync(obj.GetMap(c.Map), c.Regexps, mount))];
    }

    /// <summary>One walk: adds the matching cgroups that are new, deletes the ones gone.</summary>
    public void Sync()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var now = new HashSet<ulong>();
            try
            {
                foreach (string dir in Directory.EnumerateDirectories(_mount, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }).Prepend(_mount))
                {
                    if (now.Count >= CgroupPaths.MaxEntries)
                    {
                        break;
                    }

                    if (_regexps.Any(r => r.IsMatch(dir)) && CgroupPaths.Inode(dir) is ulong id)
                    {
                        now.Add(id);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // a cgroup removed mid-walk: the next walk sees the tree as it is
            }

            Span<byte> key = stackalloc byte[8];
            Span<byte> one = stackalloc byte[8];
            BitConverter.TryWriteBytes(one, 1UL);
            foreach (ulong id in now.Where(id => !_present.Contains(id)))
            {
                BitConverter.TryWriteBytes(key, id);
                try
                {
                    _map.Update(key, one);
                    _present.Add(id);
                }
                catch (BpfException)
                {
                    // map full: the id is tried again at the next walk
                }
            }

            foreach (ulong id in _present.Where(id => !now.Contains(id)).ToList())
            {
                BitConverter.TryWriteBytes(key, id);
                try
                {
                    _map.Delete(key);
                }
                catch (BpfException)
                {
                    // already gone
                }

                _present.Remove(id);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _timer.Dispose();
    }
}
