using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>The one place that turns libbpf's error conventions into <see cref="BpfException"/>.</summary>
internal static unsafe class Errors
{
    /// <summary>libbpf 1.x returns a negative errno; anything below zero throws.</summary>
    public static int Check(int result, string function, string? subject)
    {
        if (result < 0)
        {
            throw BpfException.FromErrno(-result, function, subject);
        }

        return result;
    }

    /// <summary>libbpf 1.x returns NULL and sets errno for constructors.</summary>
    public static nint CheckPointer(nint result, string function, string? subject)
    {
        if (result == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, function, subject);
        }

        return result;
    }

    /// <summary>libbpf_strerror's text; covers both libc errnos and LIBBPF_ERRNO__* codes.</summary>
    public static string Describe(int errno)
    {
        byte* buf = stackalloc byte[256];
        if (Interop.Libbpf.libbpf_strerror(errno, buf, 256) < 0 && buf[0] == 0)
        {
            return $"unknown error {errno}";
        }

        return NativeText.ToString(buf) ?? $"unknown error {errno}";
    }
}
