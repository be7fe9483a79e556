using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;

namespace BpfAgent.Decoding;

/// <summary>
/// One cgroup id to its path, without walking the mount. The id is the cgroup's kernfs node id, and a kernfs file
/// handle holds just that id (<c>FILEID_KERNFS</c>). So <c>open_by_handle_at</c> on the cgroup2 mount opens the
/// cgroup's directory, and <c>/proc/self/fd</c> gives its path. It takes a few syscalls, whatever the number of
/// cgroups, and it finds a cgroup created a moment ago, which a walk limited to one a second can miss. Needs
/// CAP_DAC_READ_SEARCH (the shipped unit and image have it). <see cref="TryOpen"/> checks that the mount resolves
/// its own id, and returns null with the reason where it does not (no capability, not cgroup2, a kernel without
/// kernfs handles).
/// </summary>
public sealed unsafe class CgroupHandles : IDisposable
{
    private const int FILEID_KERNFS = 0xfe; // <linux/exportfs.h>
    private const string DeletedSuffix = " (deleted)";

    private readonly string _mount;
    private int _mountFd;

    private CgroupHandles(string mount, int mountFd)
    {
        _mount = mount;
        _mountFd = mountFd;
    }

    /// <summary>Handles on <paramref name="mount"/> once the mount resolves its own id; else null and why.</summary>
    public static CgroupHandles? TryOpen(string mount, out string? why)
    {
        why = null;
        int fd;
        fixed (byte* p = Encoding.UTF8.GetBytes(mount + "\0"))
        {
            fd = LibC.open(p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        }

        if (fd < 0)
        {
            why = $"open({mount}) failed: {Marshal.GetPInvokeErrorMessage(LibC.errno)}";
            return null;
        }

        var handles = new CgroupHandles(mount, fd);
        ulong? self = CgroupPaths.Inode(mount);
        int errno = 0;
        string? found = self is ulong id ? handles.PathOf(id, out errno) : null;
        if (found == mount)
        {
            return handles;
        }

        why = self is null ? $"lstat({mount}) failed"
            : found is null ? $"open_by_handle_at on {mount} failed: {Marshal.GetPInvokeErrorMessage(errno)}"
            : $"the handle of {mount} opened {found}";
        handles.Dispose();
        return null;
    }

    /// <summary>
    /// The path of cgroup <paramref name="id"/> (under the mount, as a walk would give it), or null when no cgroup has
    /// that id now (removed, or never made).
    /// </summary>
    public string? PathOf(ulong id) => PathOf(id, out _);

    private string? PathOf(ulong id, out int errno)
    {
        errno = 0;
        if (_mountFd < 0)
        {
            return null;
        }

        // struct file_handle { u32 handle_bytes; s32 handle_type; u8 f_handle[]; } with the 8-byte id as f_handle.
        byte* handle = stackalloc byte[16];
        *(uint*)handle = 8;
        *(int*)(handle + 4) = FILEID_KERNFS;
        *(ulong*)(handle + 8) = id;
        int fd = LibC.open_by_handle_at(_mountFd, (file_handle*)handle, LibC.O_PATH | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            errno = LibC.errno; // ESTALE or ENOENT: no cgroup has the id now
            return null;
        }

        try
        {
            byte* buf = stackalloc byte[4096];
            nint n;
            fixed (byte* link = Encoding.UTF8.GetBytes($"/proc/self/fd/{fd}\0"))
            {
                n = (nint)LibC.readlink(link, buf, 4096);
            }

            if (n <= 0)
            {
                return null;
            }

            string path = Encoding.UTF8.GetString(buf, (int)n);
            // Removed between the open and the readlink, or outside this mount namespace's view of the mount.
            return path.EndsWith(DeletedSuffix, StringComparison.Ordinal) || !path.StartsWith(_mount, StringComparison.Ordinal) ? null : path;
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }

    public void Dispose()
    {
        int fd = _mountFd;
        _mountFd = -1;
        if (fd >= 0)
        {
            _ = LibC.close(fd);
        }
    }
}
