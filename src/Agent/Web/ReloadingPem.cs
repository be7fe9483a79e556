namespace BpfAgent.Web;

/// <summary>
/// A value loaded from PEM files that is loaded again when one of the files changes on disk (modification time or
/// size), checked each time it is asked for: a renewed certificate is served on the next TLS handshake, with no
/// restart. A change that does not load (a key written before its certificate) keeps the last good value, says so
/// once, and is tried again at the next change.
/// </summary>
public sealed class ReloadingPem<T>
    where T : class
{
    private readonly string _what;
    private readonly string[] _paths;
    private readonly Func<T> _load;
    private readonly Action<string> _warn;
    private readonly Lock _lock = new();
    private (long Ticks, long Length)[] _stamps;
    private T _current;
    private long _reloads;

    public ReloadingPem(string what, IEnumerable<PemSource?> sources, Func<T> load, Action<string> warn)
    {
        _what = what;
        _paths = [.. sources.Select(s => s?.Path).OfType<string>()];
        _load = load;
        _warn = warn;
        _stamps = Stamps();
        _current = load();
    }

    /// <summary>Times a changed file was loaded.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    public T Current
    {
        get
        {
            if (_paths.Length == 0)
            {
                return _current;
            }

            (long, long)[] now = Stamps();
            lock (_lock)
            {
                if (now.AsSpan().SequenceEqual(_stamps))
                {
                    return _current;
                }

                _stamps = now;
                try
                {
                    _current = _load();
                    _reloads++;
                }
                catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
                {
                    _warn($"{_what} changed on disk but does not load ({e.Message}); still serving the previous one until the files change again");
                }

                return _current;
            }
        }
    }

    private (long, long)[] Stamps() =>
        [.. _paths.Select(p =>
        {
            var f = new FileInfo(p); // follows symbolic links: a Kubernetes secret's ..data swap shows as a change
            return f.Exists ? (f.LastWriteTimeUtc.Ticks, f.Length) : (0L, -1L);
        })];
}
