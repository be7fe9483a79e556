using BpfAgent.Decoding;
using Serilog.Events;
using Serilog.Parsing;

namespace BpfAgent.Logs;

/// <summary>
/// Writes one structured Serilog event per sample of a ring, from the set's message template: each
/// {placeholder} is a struct field, rendered as a property with its decoder. Rate-limited per second; what
/// is suppressed is logged once per second as a count and exported.
/// </summary>
public sealed class EventLogWriter
{
    private readonly Serilog.ILogger _logger;
    private readonly LogEventLevel _level;
    private readonly MessageTemplate _template;
    private readonly (string Name, FieldValueDecoder Decoder)[] _fields;
    private readonly PerSecondLimiter _limiter;
    private readonly string _ring;

    private readonly TimeProvider _time;

    public EventLogWriter(Serilog.ILogger logger, LogEventLevel level, MessageTemplate template,
        IReadOnlyList<(string Name, FieldValueDecoder Decoder)> fields, double ratePerSecond, string setName, string ring,
        TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger.ForContext("SourceContext", "bpf_agent.events").ForContext("Set", setName).ForContext("Ring", ring);
        _level = level;
        _template = template;
        _fields = [.. fields];
        _limiter = new PerSecondLimiter(ratePerSecond);
        _ring = ring;
    }

    /// <summary>Events not written because of the rate limit.</summary>
    public long Suppressed => _limiter.SuppressedTotal;

    /// <summary>The placeholders of a template (field paths), in order, without duplicates.</summary>
    public static IReadOnlyList<string> Placeholders(MessageTemplate template) =>
        template.Tokens.OfType<PropertyToken>().Select(t => t.PropertyName).Distinct(StringComparer.Ordinal).ToList();

    public static MessageTemplate Parse(string template) => new MessageTemplateParser().Parse(template);

    public void Write(ReadOnlySpan<byte> sample)
    {
        if (!_logger.IsEnabled(_level))
        {
            return;
        }

        if (!_limiter.TryAcquire(PerSecondLimiter.NowMs(_time), out long suppressed))
        {
            return;
        }

        if (suppressed > 0)
        {
            ReportSuppressed(suppressed);
        }

        var properties = new LogEventProperty[_fields.Length];
        for (int i = 0; i < _fields.Length; i++)
        {
            properties[i] = new LogEventProperty(_fields[i].Name, new ScalarValue(_fields[i].Decoder.Property(sample)));
        }

        _logger.Write(new LogEvent(DateTimeOffset.Now, _level, null, _template, properties));
    }

    /// <summary>Logs the count suppressed in the current second (at shutdown).</summary>
    public void Flush()
    {
        long n = _limiter.TakePending();
        if (n > 0)
        {
            ReportSuppressed(n);
        }
    }

    private void ReportSuppressed(long count) =>
        _logger.Warning("{Suppressed} events of {RingName} were not logged in the last second (rate limit)", count, _ring);
}
