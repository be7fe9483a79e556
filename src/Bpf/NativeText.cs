using System.Runtime.InteropServices;
using System.Text;

namespace Bpf;

/// <summary>UTF-8 conversions at the native boundary.</summary>
internal static unsafe class NativeText
{
    public static string? ToString(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((nint)s);

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="s"/>; null stays null.</summary>
    public static byte[]? ToNative(string? s)
    {
        if (s is null)
        {
            return null;
        }

        if (s.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A string passed to libbpf cannot contain NUL characters.", nameof(s));
        }

        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
