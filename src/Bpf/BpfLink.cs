using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>An attachment of a program to its hook. Dispose detaches (bpf_link__destroy).</summary>
public sealed class BpfLink : SafeHandle
{
    internal BpfLink(nint link, string programName)
        : base(0, ownsHandle: true)
    {
        SetHandle(link);
        ProgramName = programName;
    }

    /// <summary>The program this link attaches.</summary>
    public string ProgramName { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The link's fd (for BPF links) or a perf event fd, owned by the link.</summary>
    public int Fd
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return Interop.Libbpf.bpf_link__fd(handle);
        }
    }

    protected override bool ReleaseHandle() => Interop.Libbpf.bpf_link__destroy(handle) == 0;
}
