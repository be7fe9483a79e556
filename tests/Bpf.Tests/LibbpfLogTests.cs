using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Bpf.Tests;

public sealed partial class LibbpfLogTests
{
    [KernelFact]
    public void A_verifier_rejection_throws_with_a_bounded_redacted_log_and_the_lines_reach_the_logger_as_warnings()
    {
        var logger = new CapturingLogger(LogLevel.Information);
        LibbpfLog.SetLogger(logger);
        try
        {
            long warningsBefore = LibbpfLog.WarningLines;
            using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"));
            Assert.True(open.GetProgram("rejected").AutoLoad);
            open.GetProgram("missing_target").AutoLoad = false;

            BpfException e = Assert.Throws<BpfException>(() => open.Load());

            Assert.Equal(13, e.Errno); // EACCES: what the verifier answers
            Assert.Equal("bpf_object__load", e.Function);
            Assert.Equal(TestObjects.Path("bad_programs"), e.Subject);
            Assert.False(string.IsNullOrEmpty(e.NativeMessage));
            Assert.True(open.IsDisposed, "a failed load closes the object");
            string? log = e.VerifierLog;
            Assert.False(string.IsNullOrWhiteSpace(log));
            Assert.True(log.Split('\n').Length <= VerifierLog.MaxLines, $"{log.Split('\n').Length} lines");
            Assert.True(log.Length <= VerifierLog.MaxChars);
            Assert.Contains("invalid mem access", log, StringComparison.Ordinal);
            Assert.DoesNotMatch(KernelAddress(), log);
            Assert.Contains(log, e.Message, StringComparison.Ordinal);

            LogEntry[] warnings = logger.Entries.Where(x => x.Level == LogLevel.Warning).ToArray();
            Assert.NotEmpty(warnings);
            Assert.Equal(LibbpfLog.WarningLines - warningsBefore, warnings.Length);
            Assert.Contains(warnings, w => w.Message.Contains("invalid mem access", StringComparison.Ordinal));
            Assert.Contains(warnings, w => w.Message.Contains("prog 'rejected'", StringComparison.Ordinal));
            Assert.All(warnings, w => Assert.StartsWith("libbpf: ", w.Message, StringComparison.Ordinal));
            Assert.All(warnings, w => Assert.False(w.Message.EndsWith('\n') || w.Message.EndsWith('\r'), w.Message));

            // The verifier prints map pointers as raw kernel addresses: they must not reach the logs either.
            Assert.All(warnings, w => Assert.DoesNotMatch(KernelAddress(), w.Message));
            Assert.Contains(warnings, w => w.Message.Contains("0x(redacted)", StringComparison.Ordinal));
            Assert.DoesNotContain(logger.Entries, x => x.Level == LogLevel.Debug);
        }
        finally
        {
            LibbpfLog.SetLogger(null);
        }
    }

    [KernelFact]
    public void Debug_lines_are_counted_but_not_logged_when_the_logger_filters_them_and_logged_when_it_does_not()
    {
        var info = new CapturingLogger(LogLevel.Information);
        LibbpfLog.SetLogger(info);
        try
        {
            long debugBefore = LibbpfLog.DebugLines;
            LoadRingbufTest();
            long debugLines = LibbpfLog.DebugLines - debugBefore;
            Assert.True(debugLines > 10, $"libbpf printed {debugLines} debug lines during a load");
            Assert.DoesNotContain(info.Entries, x => x.Level == LogLevel.Debug);
            Assert.True(info.DebugQueries > 0, "the level is asked before anything is formatted");

            var debug = new CapturingLogger(LogLevel.Debug);
            LibbpfLog.SetLogger(debug);
            debugBefore = LibbpfLog.DebugLines;
            LoadRingbufTest();
            debugLines = LibbpfLog.DebugLines - debugBefore;
            LogEntry[] entries = debug.Entries.Where(x => x.Level == LogLevel.Debug).ToArray();
            Assert.Equal(debugLines, entries.Length);
            Assert.All(entries, x => Assert.StartsWith("libbpf: ", x.Message, StringComparison.Ordinal));
            Assert.All(entries, x => Assert.False(x.Message.EndsWith('\n'), x.Message));

            // The format arguments were expanded (vsnprintf), not the raw format passed through.
            Assert.DoesNotContain(entries, x => x.Message.Contains("%s", StringComparison.Ordinal));
            Assert.Contains(entries, x => x.Message.Contains("events", StringComparison.Ordinal));

            LibbpfLog.SetLogger(null);
            debugBefore = LibbpfLog.DebugLines;
            int before = debug.Entries.Count;
            LoadRingbufTest();
            Assert.True(LibbpfLog.DebugLines > debugBefore);
            Assert.Equal(before, debug.Entries.Count);
        }
        finally
        {
            LibbpfLog.SetLogger(null);
        }
    }

    [KernelFact]
    public void Lines_reach_a_logger_made_by_a_LoggerFactory_with_its_category_and_filter()
    {
        var provider = new CapturingProvider();
        using (ILoggerFactory factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(provider)))
        {
            LibbpfLog.SetLogger(factory.CreateLogger("libbpf"));
            try
            {
                using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"));
                open.GetProgram("missing_target").AutoLoad = false;
                Assert.Throws<BpfException>(() => open.Load());
            }
            finally
            {
                LibbpfLog.SetLogger(null);
            }
        }

        Assert.NotEmpty(provider.Logger.Entries);
        Assert.Equal("libbpf", provider.Category);
        Assert.All(provider.Logger.Entries, x => Assert.Equal(LogLevel.Warning, x.Level));
        Assert.Contains(provider.Logger.Entries, x => x.Message.Contains("invalid mem access", StringComparison.Ordinal));
    }

    [KernelFact]
    public void A_logger_that_throws_does_not_take_the_process_down()
    {
        LibbpfLog.SetLogger(new ThrowingLogger());
        try
        {
            long before = LibbpfLog.DebugLines;
            LoadRingbufTest();
            Assert.True(LibbpfLog.DebugLines > before);

            using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"));
            open.GetProgram("missing_target").AutoLoad = false;
            BpfException e = Assert.Throws<BpfException>(() => open.Load());
            Assert.Contains("invalid mem access", e.VerifierLog, StringComparison.Ordinal);
        }
        finally
        {
            LibbpfLog.SetLogger(null);
        }
    }

    [Fact]
    public void Redact_replaces_kernel_addresses_with_and_without_0x()
    {
        Assert.Equal("0x(redacted)", VerifierLog.Redact("0xffff888102a07400"));
        Assert.Equal("R1=0x(redacted) R2=0x(redacted)", VerifierLog.Redact("R1=ffff888102a07400 R2=0xFFFFFFFFC0DE0000"));
        Assert.Equal("r1 = 0x(redacted)\nr2 = 42", VerifierLog.Redact("r1 = 0xffffffffa1b2c3d4\nr2 = 42"));

        // 5-level paging (x86-64 LA57; a Debian 6.1 guest under qemu -cpu max printed this map pointer).
        Assert.Equal("r1 = 0x(redacted)       ; R1_w=map_ptr", VerifierLog.Redact("r1 = 0xff471cabbfd5d800       ; R1_w=map_ptr"));
        Assert.Equal("0x(redacted)", VerifierLog.Redact("0xFF11000102A07400"));

        // Not kernel addresses: user-space sized values, short hex, and a run of hex that only contains one stay.
        Assert.Equal("0x00ff471cabbfd5d800 0x7fff12345678ffff", VerifierLog.Redact("0x00ff471cabbfd5d800 0x7fff12345678ffff"));
        Assert.Equal("0x7fff12345678 0xffff 0xffffffff", VerifierLog.Redact("0x7fff12345678 0xffff 0xffffffff"));
    }

    [Fact]
    public void Tail_keeps_the_last_lines_and_characters_and_redacts()
    {
        string many = string.Join("\r\n", Enumerable.Range(0, 100).Select(i => $"line {i}")) + "\n\n";
        string[] kept = VerifierLog.Tail(many).Split('\n');
        Assert.Equal(VerifierLog.MaxLines, kept.Length);
        Assert.Equal("line 60", kept[0]);
        Assert.Equal("line 99", kept[^1]);
        Assert.DoesNotContain(kept, l => l.Length == 0 || l.Contains('\r', StringComparison.Ordinal));

        Assert.Equal("a\nb", VerifierLog.Tail("\n\na\n\nb\n"));
        Assert.Equal("", VerifierLog.Tail(""));

        string longLine = new string('x', 3 * VerifierLog.MaxChars) + "END";
        string tail = VerifierLog.Tail(longLine);
        Assert.Equal(VerifierLog.MaxChars, tail.Length);
        Assert.EndsWith("END", tail, StringComparison.Ordinal);
    }

    [Fact]
    public void Tail_never_keeps_part_of_an_address_cut_at_the_character_limit()
    {
        // Wherever the cut lands, not even the low digits of an address may survive.
        for (int pad = 0; pad < 24; pad++)
        {
            var sb = new StringBuilder();
            while (sb.Length < 2 * VerifierLog.MaxChars)
            {
                sb.Append("R1=0xffff888102a07400 ");
            }

            sb.Append('x', pad); // moves where the cut lands in the repeated text
            string tail = VerifierLog.Tail(sb.ToString());
            Assert.True(tail.Length <= VerifierLog.MaxChars);
            Assert.DoesNotMatch(HexRun(), tail);
        }
    }

    private static void LoadRingbufTest()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        using BpfObject obj = open.Load();
    }

    [GeneratedRegex("ff[0-9a-f]{14}", RegexOptions.IgnoreCase)]
    private static partial Regex KernelAddress();

    [GeneratedRegex("[0-9a-f]{6,}", RegexOptions.IgnoreCase)]
    private static partial Regex HexRun();

    public sealed record LogEntry(LogLevel Level, string Message);

    /// <summary>Keeps every entry at or above its minimum level, as a real logger's filter would.</summary>
    private sealed class CapturingLogger(LogLevel minimum) : ILogger
    {
        private readonly List<LogEntry> _entries = [];
        private int _debugQueries;

        public IReadOnlyList<LogEntry> Entries
        {
            get
            {
                lock (_entries)
                {
                    return _entries.ToArray();
                }
            }
        }

        public int DebugQueries => Volatile.Read(ref _debugQueries);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel)
        {
            if (logLevel == LogLevel.Debug)
            {
                Interlocked.Increment(ref _debugQueries);
            }

            return logLevel >= minimum;
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Assert.True(IsEnabled(logLevel), $"{logLevel} logged while the logger filters it");
            lock (_entries)
            {
                _entries.Add(new LogEntry(logLevel, formatter(state, exception)));
            }
        }
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public CapturingLogger Logger { get; } = new(LogLevel.Trace);

        public string? Category { get; private set; }

        public ILogger CreateLogger(string categoryName)
        {
            Category = categoryName;
            return Logger;
        }

        public void Dispose()
        {
        }
    }

    private sealed class ThrowingLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => throw new InvalidOperationException("scope");

        // Enabled for everything, so every line goes to Log, which throws.
        public bool IsEnabled(LogLevel logLevel) => logLevel == LogLevel.Debug ? throw new InvalidOperationException("IsEnabled") : true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("Log");
    }
}
