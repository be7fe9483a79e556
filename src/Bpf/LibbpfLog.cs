using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Bpf;

/// <summary>
/// Bridges libbpf's own log lines (<c>libbpf_set_print</c>) to an <see cref="ILogger"/>.
/// libbpf has ONE print callback per process: <see cref="SetLogger"/> is process-wide, and this binding
/// owns that callback from the first use of any of its types (it also captures verifier logs for
/// <see cref="BpfException.VerifierLog"/>). Do not call libbpf_set_print from other code in the same process.
/// </summary>
public static unsafe class LibbpfLog
{
    private static ILogger? s_logger;
    private static long s_warnLines;
    private static long s_infoLines;
    private static long s_debugLines;

    [ThreadStatic]
    private static LogCapture? t_capture;

    /// <summary>
    /// Sends every libbpf log line of this process to <paramref name="logger"/> (null: drop them).
    /// WARN maps to Warning, INFO to Information, DEBUG to Debug; DEBUG lines are only formatted when the
    /// logger has Debug enabled. Lines lose their trailing newline and kernel addresses are redacted
    /// (<see cref="VerifierLog.Redact"/>).
    /// </summary>
    public static void SetLogger(ILogger? logger)
    {
        Libbpf.EnsureSupported();
        Volatile.Write(ref s_logger, logger);
    }

    /// <summary>Lines libbpf printed at WARN level since the process started.</summary>
    public static long WarningLines => Interlocked.Read(ref s_warnLines);

    /// <summary>Lines libbpf printed at INFO level since the process started.</summary>
    public static long InformationLines => Interlocked.Read(ref s_infoLines);

    /// <summary>Lines libbpf printed at DEBUG level since the process started (counted even when not formatted).</summary>
    public static long DebugLines => Interlocked.Read(ref s_debugLines);

    internal static void InstallCallback() => Interop.Libbpf.libbpf_set_print(&Print);

    /// <summary>Collects WARN/INFO lines printed on this thread until disposed (libbpf prints synchronously).</summary>
    internal static LogCapture BeginCapture()
    {
        var capture = new LogCapture(t_capture);
        t_capture = capture;
        return capture;
    }

    internal static void EndCapture(LogCapture capture) => t_capture = capture.Previous;

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        // Nothing may escape into native code: an exception here would abort the process.
        try
        {
            LogLevel logLevel;
            switch (level)
            {
                case 0:
                    logLevel = LogLevel.Warning;
                    Interlocked.Increment(ref s_warnLines);
                    break;
                case 1:
                    logLevel = LogLevel.Information;
                    Interlocked.Increment(ref s_infoLines);
                    break;
                default:
                    logLevel = LogLevel.Debug;
                    Interlocked.Increment(ref s_debugLines);
                    break;
            }

            ILogger? logger = Volatile.Read(ref s_logger);
            LogCapture? capture = logLevel > LogLevel.Debug ? t_capture : null;
            bool log = logger is not null && logger.IsEnabled(logLevel);
            if (!log && capture is null)
            {
                return 0;
            }

            // Verifier logs print kernel pointers (ld_imm64 of a map): keep them out of logs too, not just exceptions.
            string text = VerifierLog.Redact(Format(format, args));
            capture?.Add(text);
            if (log)
            {
                logger!.Log(logLevel, "{LibbpfMessage:l}", text);
            }
        }
        catch
        {
            // Swallowed by design; see above.
        }

        return 0;
    }

    // va_list is a pointer to a 24-byte (x86-64) or 32-byte (arm64) state that vsnprintf consumes:
    // each vsnprintf call gets its own fresh copy.
    private const int VaListCopyBytes = 32;

    internal static string Format(byte* format, nint args)
    {
        if (format == null)
        {
            return "";
        }

        int vaBytes = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : VaListCopyBytes;
        byte* vaCopy = stackalloc byte[VaListCopyBytes];
        const int StackSize = 512;
        byte* buffer = stackalloc byte[StackSize];

        Buffer.MemoryCopy((void*)args, vaCopy, VaListCopyBytes, vaBytes);
        int length = Interop.Libc.vsnprintf(buffer, StackSize, format, vaCopy);
        if (length < 0)
        {
            return NativeText.ToString(format) ?? "";
        }

        if (length < StackSize)
        {
            return Trim(new ReadOnlySpan<byte>(buffer, length));
        }

        byte[] large = new byte[length + 1];
        fixed (byte* p = large)
        {
            Buffer.MemoryCopy((void*)args, vaCopy, VaListCopyBytes, vaBytes);
            int written = Interop.Libc.vsnprintf(p, (nuint)large.Length, format, vaCopy);
            return Trim(new ReadOnlySpan<byte>(p, Math.Clamp(written, 0, length)));
        }
    }

    private static string Trim(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8).TrimEnd('\n', '\r');
}

/// <summary>Log lines collected on one thread during a load, for the verifier-log tail of an error.</summary>
internal sealed class LogCapture
{
    private const int MaxChars = 64 * 1024;
    private readonly StringBuilder _text = new();

    public LogCapture(LogCapture? previous) => Previous = previous;

    public LogCapture? Previous { get; }

    public void Add(string line)
    {
        _text.Append(line).Append('\n');
        if (_text.Length > MaxChars)
        {
            _text.Remove(0, _text.Length - MaxChars);
        }
    }

    public string Text => _text.ToString();
}
