namespace Bpf;

/// <summary>
/// A libbpf or kernel call failed. Carries the errno (libbpf's own LIBBPF_ERRNO__* codes included), the
/// native function, the object, path or name involved, libbpf's text for the error and, for a failed load,
/// a bounded tail of the verifier log with kernel addresses redacted.
/// </summary>
public sealed class BpfException : Exception
{
    public BpfException(string message, int errno, string function, string? subject, string nativeMessage, Exception? inner)
        : base(message, inner)
    {
        Errno = errno;
        Function = function;
        Subject = subject;
        NativeMessage = nativeMessage;
    }

    public BpfException()
        : this("A libbpf call failed.", 0, "", null, "", null)
    {
    }

    public BpfException(string message)
        : this(message, 0, "", null, "", null)
    {
    }

    public BpfException(string message, Exception inner)
        : this(message, 0, "", null, "", inner)
    {
    }

    /// <summary>Positive errno (for example 2 for ENOENT, 4003 for LIBBPF_ERRNO__FORMAT).</summary>
    public int Errno { get; }

    /// <summary>What <see cref="Errno"/> means, for callers that branch on the failure.</summary>
    public BpfErrorKind Kind => Bpf.Errno.Classify(Errno);

    /// <summary>The native function that failed, for example <c>bpf_object__load</c>.</summary>
    public string Function { get; }

    /// <summary>The object, program, map or path the call was about, when there is one.</summary>
    public string? Subject { get; }

    /// <summary><c>libbpf_strerror</c>'s text for <see cref="Errno"/>.</summary>
    public string NativeMessage { get; }

    /// <summary>For a failed load: the last lines of the verifier log, kernel addresses redacted; else null.</summary>
    public string? VerifierLog { get; init; }

    internal static BpfException FromErrno(int errno, string function, string? subject, string? verifierLog = null)
    {
        string text = Errors.Describe(errno);
        string about = subject is null ? "" : $" ({subject})";
        string message = $"{function}{about} failed: {text} (errno {errno})";
        if (!string.IsNullOrEmpty(verifierLog))
        {
            message += Environment.NewLine + "verifier log (tail):" + Environment.NewLine + verifierLog;
        }

        return new BpfException(message, errno, function, subject, text, null) { VerifierLog = verifierLog };
    }
}
