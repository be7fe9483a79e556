using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Bpf;

/// <summary>
/// A map opened from its bpffs pin (<c>bpf_obj_get</c>), with no object around it: another process's
/// map, or one of ours after a restart. Owns the fd it opened.
/// </summary>
public sealed unsafe class PinnedBpfMap : SafeHandle
{
    private PinnedBpfMap(int fd, string path, BpfMapInfo info)
        : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        Path = path;
        Info = info;
    }

    public override bool IsInvalid => handle == -1;

    /// <summary>The pin path it was opened from.</summary>
    public string Path { get; }

    /// <summary>The kernel's description of the map, read once when it was opened.</summary>
    public BpfMapInfo Info { get; }

    /// <summary>The map fd; valid until dispose.</summary>
    public int Fd
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle;
        }
    }

    /// <summary>Opens the map pinned at <paramref name="path"/>; throws when there is none or it is not a map.</summary>
    public static PinnedBpfMap Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Libbpf.EnsureSupported();
        int fd;
        fixed (byte* p = NativeText.ToNative(path))
        {
            fd = Errors.Check(Interop.Libbpf.bpf_obj_get(p), "bpf_obj_get", path);
        }

        try
        {
            // bpf_obj_get opens any pinned BPF object and the info call answers for programs too: ask the fd.
            string? kind = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (kind != "anon_inode:bpf-map")
            {
                throw new BpfException(
                    $"{path} is pinned but is not a BPF map ({kind ?? "unknown"}).",
                    Errno.EINVAL, "bpf_obj_get", path, "not a map", null);
            }

            return new PinnedBpfMap(fd, path, BpfMapInfo.FromFd(fd, path));
        }
        catch
        {
            _ = LibC.close(fd); // nothing to do if the close of a half-opened fd fails
            throw;
        }
    }

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;

    public override string ToString() => $"{Path} ({Info.Type})";
}
