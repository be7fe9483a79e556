using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Logs;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Events;

namespace BpfAgent.Tests;

/// <summary>PerSecondLimiter, the event log writer and the rate-limited logger, on a clock the test moves.</summary>
public sealed class LimiterTests
{
    [Fact]
    public void The_limiter_allows_n_per_second_and_reports_the_previous_seconds_count_once()
    {
        var limiter = new PerSecondLimiter(3);
        long now = 10_000;
        int allowed = 0;
        for (int i = 0; i < 10; i++)
        {
            if (limiter.TryAcquire(now + i, out long reported))
            {
                allowed++;
            }

            Assert.Equal(0, reported);
        }

        Assert.Equal(3, allowed);
        Assert.Equal(7, limiter.SuppressedTotal);
        Assert.Equal(7, limiter.PendingReport);

        // Still the same second (999 ms later): nothing allowed, nothing reported.
        Assert.False(limiter.TryAcquire(now + 999, out long same));
        Assert.Equal(0, same);
        Assert.Equal(8, limiter.SuppressedTotal);

        // The next second reports the 8 once, and allows 3 again.
        Assert.True(limiter.TryAcquire(now + 1000, out long first));
        Assert.Equal(8, first);
        Assert.True(limiter.TryAcquire(now + 1001, out long second));
        Assert.Equal(0, second);
        Assert.True(limiter.TryAcquire(now + 1002, out _));
        Assert.False(limiter.TryAcquire(now + 1003, out _));
        Assert.Equal(9, limiter.SuppressedTotal);

        // A quiet gap of several seconds still reports what is pending, once.
        Assert.True(limiter.TryAcquire(now + 5000, out long afterGap));
        Assert.Equal(1, afterGap);
        Assert.Equal(0, limiter.TakePending());
        Assert.False(limiter.TryAcquire(now + 5001, out _) && limiter.TryAcquire(now + 5002, out _) && limiter.TryAcquire(now + 5003, out _));
        Assert.Equal(1, limiter.TakePending());
        Assert.Equal(0, limiter.TakePending());
        Assert.Equal(10, limiter.SuppressedTotal);
    }

    [Fact]
    public void A_limit_of_zero_allows_nothing_and_counts_everything()
    {
        var limiter = new PerSecondLimiter(0);
        for (int i = 0; i < 5; i++)
        {
            Assert.False(limiter.TryAcquire(i * 400, out _));
        }

        Assert.Equal(5, limiter.SuppressedTotal);
    }

    [Fact]
    public void A_fractional_log_rate_is_refused_by_the_config_reader()
    {
        // The limiter counts whole events per second: 0.5 would silently log nothing at all.
        string dir = Directory.CreateTempSubdirectory("bpf-agent-rate-").FullName;
        try
        {
            string file = Path.Combine(dir, "s.json");
            File.WriteAllText(file, """{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "ratePerSecond": 0.5 } } ] }""");
            var errors = new List<ConfigError>();
            Assert.Null(ProgramSetConfigReader.ReadFile(file, dir, errors));
            Assert.Equal("ringBuffers[0].log.ratePerSecond", Assert.Single(errors).Key);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void The_event_log_writer_renders_fields_as_structured_properties()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var sink = new CollectingSink();
        Serilog.ILogger logger = new Serilog.LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        MessageTemplate template = EventLogWriter.Parse("exec {comm} pid={s32v} err={err} from {addr4} color={color} n={u64v}");
        Assert.Equal(["comm", "s32v", "err", "addr4", "color", "u64v"], EventLogWriter.Placeholders(template));

        var writer = new EventLogWriter(logger, LogEventLevel.Information, template,
            [
                ("comm", DecodeEvent.Decoder(layout, "comm", "auto")),
                ("s32v", DecodeEvent.Decoder(layout, "s32v", "auto")),
                ("err", DecodeEvent.Decoder(layout, "err", "errno")),
                ("addr4", DecodeEvent.Decoder(layout, "addr4", "ipv4")),
                ("color", DecodeEvent.Decoder(layout, "color", "auto")),
                ("u64v", DecodeEvent.Decoder(layout, "u64v", "auto")),
            ],
            ratePerSecond: 10, "myset", "events", new ManualTime());

        writer.Write(DecodeEvent.Build(layout).Text("comm", "bash").Int("s32v", -5).Int("err", -2).Raw("addr4", [127, 0, 0, 1])
            .Int("color", DecodeEvent.Blue).UInt64("u64v", ulong.MaxValue).Bytes);

        LogEvent e = Assert.Single(sink.Events);
        Assert.Equal(LogEventLevel.Information, e.Level);
        Assert.Same(template, e.MessageTemplate);
        Assert.Equal("bash", Scalar(e, "comm"));
        Assert.Equal(-5L, Scalar(e, "s32v")); // numbers stay numbers
        Assert.Equal("ENOENT", Scalar(e, "err"));
        Assert.Equal("127.0.0.1", Scalar(e, "addr4"));
        Assert.Equal("DECODE_BLUE", Scalar(e, "color"));
        Assert.Equal(ulong.MaxValue, Scalar(e, "u64v"));
        Assert.Equal("myset", Scalar(e, "Set"));
        Assert.Equal("events", Scalar(e, "Ring"));
        Assert.Equal("bpf_agent.events", Scalar(e, "SourceContext"));
        Assert.Equal("exec \"bash\" pid=-5 err=\"ENOENT\" from \"127.0.0.1\" color=\"DECODE_BLUE\" n=18446744073709551615", e.RenderMessage());
        Assert.Equal(0, writer.Suppressed);
    }

    [KernelFact]
    public void The_event_log_writer_enforces_its_rate_and_reports_what_it_suppressed()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var sink = new CollectingSink();
        Serilog.ILogger logger = new Serilog.LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        var time = new ManualTime();
        var writer = new EventLogWriter(logger, LogEventLevel.Debug, EventLogWriter.Parse("n={u16v}"),
            [("u16v", DecodeEvent.Decoder(layout, "u16v", "auto"))], ratePerSecond: 3, "myset", "events", time);

        for (int i = 0; i < 10; i++)
        {
            writer.Write(DecodeEvent.Build(layout).Int("u16v", i).Bytes);
        }

        Assert.Equal([0UL, 1UL, 2UL], sink.Events.Select(e => Scalar(e, "u16v")));
        Assert.Equal(7, writer.Suppressed);

        // The next second: one summary (a warning naming the count and the ring), then the event.
        time.Advance(1000);
        writer.Write(DecodeEvent.Build(layout).Int("u16v", 100).Bytes);
        Assert.Equal(5, sink.Events.Count);
        LogEvent summary = sink.Events[3];
        Assert.Equal(LogEventLevel.Warning, summary.Level);
        Assert.Equal(7L, Scalar(summary, "Suppressed"));
        Assert.Equal("events", Scalar(summary, "RingName"));
        Assert.Equal(100UL, Scalar(sink.Events[4], "u16v"));

        // Reported once: the following second has nothing to report.
        time.Advance(1000);
        writer.Write(DecodeEvent.Build(layout).Int("u16v", 101).Bytes);
        Assert.Equal(6, sink.Events.Count);
        Assert.Equal(LogEventLevel.Debug, sink.Events[5].Level);

        // Flush (shutdown) reports the current second's suppressed count.
        for (int i = 0; i < 4; i++)
        {
            writer.Write(DecodeEvent.Build(layout).Int("u16v", 200 + i).Bytes);
        }

        Assert.Equal(9, writer.Suppressed);
        writer.Flush();
        Assert.Equal(2L, Scalar(sink.Events[^1], "Suppressed"));
        writer.Flush();
        Assert.Equal(LogEventLevel.Warning, sink.Events[^1].Level);
        Assert.Equal(9, sink.Events.Count); // 3 + summary + 1 + 1 + 2 + summary; the second flush had nothing
        Assert.Equal(9, writer.Suppressed);
    }

    [KernelFact]
    public void The_event_log_writer_does_nothing_when_its_level_is_off()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var sink = new CollectingSink();
        Serilog.ILogger logger = new Serilog.LoggerConfiguration().MinimumLevel.Warning().WriteTo.Sink(sink).CreateLogger();
        var writer = new EventLogWriter(logger, LogEventLevel.Information, EventLogWriter.Parse("n={u16v}"),
            [("u16v", DecodeEvent.Decoder(layout, "u16v", "auto"))], ratePerSecond: 1, "myset", "events", new ManualTime());
        for (int i = 0; i < 10; i++)
        {
            writer.Write(new byte[layout.Size]);
        }

        Assert.Empty(sink.Events);
        Assert.Equal(0, writer.Suppressed); // not logging by level is not suppression
    }

    [Fact]
    public void Nested_fields_can_be_placeholders()
    {
        // Fields of nested structs are named with dots; a template must be able to name them.
        Assert.Equal(["inner.x", "comm"], EventLogWriter.Placeholders(EventLogWriter.Parse("x={inner.x} by {comm}")));
    }

    [Fact]
    public void The_rate_limited_logger_passes_n_lines_per_second_and_counts_the_rest()
    {
        var inner = new CollectingLogger();
        var time = new ManualTime();
        var logger = new RateLimitedLogger(inner, perSecond: 5, time);

        for (int i = 0; i < 12; i++)
        {
            logger.LogInformation("line {N}", i);
        }

        Assert.Equal(["line 0", "line 1", "line 2", "line 3", "line 4"], inner.Lines.Select(l => l.Message));
        Assert.Equal(7, logger.Suppressed);

        time.Advance(1000);
        logger.LogError("after");
        Assert.Equal(7, inner.Lines.Count);
        Assert.Equal(LogLevel.Warning, inner.Lines[5].Level);
        Assert.Contains("7", inner.Lines[5].Message, StringComparison.Ordinal);
        Assert.Equal((LogLevel.Error, "after"), inner.Lines[6]);
        Assert.Equal(7, logger.Suppressed);

        time.Advance(1000);
        logger.LogDebug("quiet");
        Assert.Equal(8, inner.Lines.Count); // nothing left to summarise
    }

    [Fact]
    public void Lines_of_a_disabled_level_neither_use_the_budget_nor_count_as_suppressed()
    {
        var inner = new CollectingLogger(LogLevel.Information);
        var logger = new RateLimitedLogger(inner, perSecond: 3, new ManualTime());
        for (int i = 0; i < 50; i++)
        {
            logger.LogDebug("debug {I}", i);
        }

        logger.LogWarning("a");
        logger.LogWarning("b");
        logger.LogWarning("c");
        Assert.Equal(["a", "b", "c"], inner.Lines.Select(l => l.Message));
        Assert.Equal(0, logger.Suppressed);
        Assert.False(logger.IsEnabled(LogLevel.Debug));
    }

    [Fact]
    public void The_rate_limited_logger_is_exact_under_concurrent_callers()
    {
        var inner = new CollectingLogger();
        var logger = new RateLimitedLogger(inner, perSecond: 100, new ManualTime());
        Parallel.For(0, 10_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => logger.LogInformation("x {I}", i));
        Assert.Equal(100, inner.Lines.Count);
        Assert.Equal(9_900, logger.Suppressed);
    }

    private static object? Scalar(LogEvent e, string name) =>
        Assert.IsType<ScalarValue>(e.Properties[name]).Value;

    /// <summary>A clock that moves only when told (milliseconds).</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ms = 1_000_000;

        public override long TimestampFrequency => 1000;

        public override long GetTimestamp() => Interlocked.Read(ref _ms);

        public void Advance(long ms) => Interlocked.Add(ref _ms, ms);
    }

    private sealed class CollectingSink : ILogEventSink
    {
        private readonly List<LogEvent> _events = [];

        public List<LogEvent> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public void Emit(LogEvent logEvent)
        {
            lock (_events)
            {
                _events.Add(logEvent);
            }
        }
    }

    private sealed class CollectingLogger(LogLevel minimum = LogLevel.Trace) : Microsoft.Extensions.Logging.ILogger
    {
        private readonly List<(LogLevel Level, string Message)> _lines = [];

        public List<(LogLevel Level, string Message)> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            lock (_lines)
            {
                _lines.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
