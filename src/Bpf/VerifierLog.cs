using System.Text.RegularExpressions;

namespace Bpf;

/// <summary>Turns a verifier log into something safe and short enough to put in an exception or a log line.</summary>
public static partial class VerifierLog
{
    /// <summary>Lines kept from the end of a log.</summary>
    public const int MaxLines = 40;

    /// <summary>Characters kept at most.</summary>
    public const int MaxChars = 4096;

    /// <summary>
    /// The last <see cref="MaxLines"/> lines (at most <see cref="MaxChars"/> characters) of <paramref name="log"/>,
    /// with kernel addresses (which defeat KASLR if leaked) replaced by <c>0x(redacted)</c>.
    /// </summary>
    public static string Tail(string log)
    {
        ArgumentNullException.ThrowIfNull(log);
        string[] lines = log.Replace("\r", "", StringComparison.Ordinal)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int start = Math.Max(0, lines.Length - MaxLines);

        // Redact before cutting: a cut through an address would leave its low digits unrecognisable, and kept.
        string tail = Redact(string.Join('\n', lines, start, lines.Length - start));
        return tail.Length > MaxChars ? tail[^MaxChars..] : tail;
    }

    /// <summary>
    /// Replaces kernel addresses, with or without 0x: 16 hex digits whose top byte is 0xff. With 4-level paging they
    /// start 0xffff; with 5-level paging (x86-64 LA57, seen in a Debian 6.1 guest: 0xff471cabbfd5d800) or arm64's
    /// 52-bit VAs they start 0xff or 0xfff.
    /// </summary>
    public static string Redact(string text) => KernelAddress().Replace(text, "0x(redacted)");

    [GeneratedRegex(@"\b(0x)?ff[0-9a-f]{14}\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KernelAddress();
}
