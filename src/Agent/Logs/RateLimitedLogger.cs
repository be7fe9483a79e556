using Microsoft.Extensions.Logging;

namespace BpfAgent.Logs;

/// <summary>
/// An <see cref="ILogger"/> that passes at most N lines per second to the inner logger (a flood of libbpf
/// lines must not drown the journal); the rest are counted and summarised once per second.
/// </summary>
public sealed class RateLimitedLogger(ILogger inner, int perSecond, TimeProvider? timeProvider = null) : ILogger
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly PerSecondLimiter _limiter = new(perSecond);
    private readonly Lock _lock = new();

    public long Suppressed => _limiter.SuppressedTotal;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        // A line the inner logger would drop anyway (a disabled level) must not use the budget or count as suppressed.
        if (!inner.IsEnabled(logLevel))
        {
            return;
        }

        bool ok;
        long suppressed;
        lock (_lock)
        {
            ok = _limiter.TryAcquire(PerSecondLimiter.NowMs(_time), out suppressed);
        }

        if (suppressed > 0)
        {
            inner.LogWarning("{Suppressed} log lines were dropped in the last second (rate limit)", suppressed);
        }

        if (ok)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
