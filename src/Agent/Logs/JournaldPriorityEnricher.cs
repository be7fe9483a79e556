using Serilog.Core;
using Serilog.Events;

namespace BpfAgent.Logs;

/// <summary>
/// Adds "SyslogPriority" ("&lt;3&gt;" for errors...) when stdout goes to journald (JOURNAL_STREAM is set), so
/// journald stores each console line with the right priority; empty otherwise.
/// </summary>
public sealed class JournaldPriorityEnricher : ILogEventEnricher
{
    private static readonly bool s_journald = Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null;
    private static readonly LogEventProperty[] s_properties =
    [
        new("SyslogPriority", new ScalarValue(s_journald ? "<7>" : "")),
        new("SyslogPriority", new ScalarValue(s_journald ? "<7>" : "")),
        new("SyslogPriority", new ScalarValue(s_journald ? "<6>" : "")),
        new("SyslogPriority", new ScalarValue(s_journald ? "<4>" : "")),
        new("SyslogPriority", new ScalarValue(s_journald ? "<3>" : "")),
        new("SyslogPriority", new ScalarValue(s_journald ? "<2>" : "")),
    ];

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) =>
        logEvent.AddPropertyIfAbsent(s_properties[(int)logEvent.Level]);
}
