using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace BpfAgent.Web;

public enum PasswordVerdict
{
    Accepted,
    Refused,

    /// <summary>Not checked: the bcrypt queue was too long (a flood of new passwords).</summary>
    Busy,
}

/// <summary>
/// Checks basic auth passwords against the web config's bcrypt hashes. bcrypt is slow on purpose (cost 10: a median
/// of 447 ms on this 2-vCPU machine under load, tens of ms on an idle core), so: verified and refused (user, password) pairs are remembered (keyed by an HMAC under a key made
/// at start, never the password itself; each cache bounded); only one bcrypt runs at a time, and after each the
/// next waits so that bcrypt takes at most <see cref="CpuShare"/> of one core however many requests come; a request
/// that cannot start its check within <see cref="QueueWait"/> is answered Busy. A flood of wrong passwords thus
/// costs a quarter of a core, not the poll thread's time, and a client whose password is already verified is never
/// queued behind it. An unknown user is checked against a decoy hash of the same cost, so timing does not tell
/// which users exist.
/// </summary>
public sealed class PasswordChecker : IDisposable
{
    public const int CacheEntries = 256;
    public const double CpuShare = 0.25;
    public static readonly TimeSpan QueueWait = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyDictionary<string, string> _users;
    private readonly WebMetrics _metrics;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, bool> _accepted = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _refused = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lazy<string> _decoy;

    public PasswordChecker(IReadOnlyDictionary<string, string> users, WebMetrics metrics)
    {
        _users = users;
        _metrics = metrics;
        int cost = users.Values.Select(h => int.Parse(h.AsSpan(4, 2), System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(10).Max();
        _decoy = new Lazy<string>(() => BCrypt.Net.BCrypt.HashPassword(Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), cost));
    }

    public async ValueTask<PasswordVerdict> CheckAsync(string user, string password, CancellationToken cancel)
    {
        string key = Convert.ToHexString(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(user + "\0" + password)));
        if (Cached(key) is PasswordVerdict remembered)
        {
            return remembered;
        }

        if (!await _gate.WaitAsync(QueueWait, cancel).ConfigureAwait(false))
        {
            return PasswordVerdict.Busy;
        }

        long start = Stopwatch.GetTimestamp();
        try
        {
            if (Cached(key) is PasswordVerdict justChecked)
            {
                return justChecked; // checked by the request ahead in the queue
            }

            bool known = _users.TryGetValue(user, out string? hash);
            bool ok = BCrypt.Net.BCrypt.Verify(password, known ? hash : _decoy.Value) && known;
            _metrics.PasswordChecked();
            Remember(ok ? _accepted : _refused, key);
            return ok ? PasswordVerdict.Accepted : PasswordVerdict.Refused;
        }
        finally
        {
            TimeSpan spent = Stopwatch.GetElapsedTime(start);
            _ = Task.Delay(spent * ((1 / CpuShare) - 1), CancellationToken.None).ContinueWith(_ => _gate.Release(), TaskScheduler.Default);
        }
    }

    public void Dispose() => _gate.Dispose();

    private PasswordVerdict? Cached(string key) =>
        _accepted.ContainsKey(key) ? PasswordVerdict.Accepted : _refused.ContainsKey(key) ? PasswordVerdict.Refused : null;

    private static void Remember(ConcurrentDictionary<string, bool> cache, string key)
    {
        if (cache.Count >= CacheEntries)
        {
            cache.Clear(); // bounded; the next requests pay one bcrypt each to fill it again
        }

        cache[key] = true;
    }
}
