namespace BpfAgent.Logs;

/// <summary>
/// Allows at most N events per wall-clock second and counts the rest. Not thread-safe on its own; callers on
/// several threads lock around it.
/// </summary>
public sealed class PerSecondLimiter(double perSecond)
{
    private readonly long _limit = (long)Math.Floor(perSecond);
    private long _second = -1;
    private long _used;
    private long _suppressedTotal;

    /// <summary>Events refused since the start.</summary>
    public long SuppressedTotal => Interlocked.Read(ref _suppressedTotal);

    /// <summary>Events refused in the second that just ended, reported once when a new second starts.</summary>
    public long PendingReport { get; private set; }

    /// <summary>
    /// True when the event may be written. <paramref name="suppressedLastSecond"/> is the count refused in the
    /// previous second, to summarise once (0 otherwise).
    /// </summary>
    public bool TryAcquire(long nowMs, out long suppressedLastSecond)
    {
        long second = nowMs / 1000;
        suppressedLastSecond = 0;
        if (second != _second)
        {
            suppressedLastSecond = PendingReport;
            PendingReport = 0;
            _second = second;
            _used = 0;
        }

        if (_used < _limit)
        {
            _used++;
            return true;
        }

        PendingReport++;
        Interlocked.Increment(ref _suppressedTotal);
        return false;
    }

    /// <summary>Monotonic milliseconds of <paramref name="time"/> (Environment.TickCount64 for the system clock: cheapest per sample).</summary>
    public static long NowMs(TimeProvider time) => ReferenceEquals(time, TimeProvider.System)
        ? Environment.TickCount64
        : (long)(time.GetTimestamp() * 1000.0 / time.TimestampFrequency);

    /// <summary>Takes the not yet reported count (at shutdown).</summary>
    public long TakePending()
    {
        long n = PendingReport;
        PendingReport = 0;
        return n;
    }
}
