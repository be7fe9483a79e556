using Serilog;
using Serilog.Configuration;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;

namespace BpfAgent.Logs;

/// <summary>
/// Where and how log lines are written: the console (journald under systemd), as text (the default) or, with
/// <c>Agent:LogFormat=json</c>, one compact JSON object a line (Serilog's CLEF). Both keep the journald
/// priority prefix (<c>&lt;6&gt;</c>) when stdout is the journal.
/// </summary>
public static class LogOutput
{
    public const string Text = "text";
    public const string Json = "json";

    public const string ConsoleTemplate =
        "{SyslogPriority}[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    public static LoggerConfiguration AgentConsole(this LoggerSinkConfiguration to, string format) =>
        format == Json
            ? to.Console(new JournaldJsonFormatter())
            : to.Console(outputTemplate: ConsoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The journald priority prefix, then the event as compact JSON without that prefix property in it.</summary>
    private sealed class JournaldJsonFormatter : ITextFormatter
    {
        private readonly CompactJsonFormatter _json = new();

        public void Format(LogEvent logEvent, TextWriter output)
        {
            if (logEvent.Properties.TryGetValue("SyslogPriority", out LogEventPropertyValue? priority) && priority is ScalarValue { Value: string p })
            {
                output.Write(p);
                logEvent = new LogEvent(logEvent.Timestamp, logEvent.Level, logEvent.Exception, logEvent.MessageTemplate,
                    logEvent.Properties.Where(x => x.Key != "SyslogPriority").Select(x => new LogEventProperty(x.Key, x.Value)),
                    logEvent.TraceId ?? default, logEvent.SpanId ?? default);
            }

            _json.Format(logEvent, output);
        }
    }
}
