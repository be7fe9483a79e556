using System.Runtime.InteropServices;
using System.Text;

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
public sealed partial class CgroupHandles : IDisposable
{
    // <linux/exportfs.h>, <fcntl.h>, <errno.h>
    private const int FILEID_KERNFS = 0xfe;
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;
    private const int O_PATH = 0x200000;
    private const int ENOENT = 2;
    private const int ESTALE = 116;
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
        int fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            why = $"open({mount}) failed: {Error()}";
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

    /// <summary>The errno of the last lookup that failed for a reason other than a cgroup that does not exist.</summary>
    public int LastErrno { get; private set; }

    /// <summary>
    /// The path of cgroup <paramref name="id"/> (under the mount, as a walk would give it), or null when no cgroup has
    /// that id now (removed, or never made).
    /// </summary>
    public string? PathOf(ulong id) => PathOf(id, out _);

    private unsafe string? PathOf(ulong id, out int errno)
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
        int fd = open_by_handle_at(_mountFd, handle, O_PATH | O_CLOEXEC);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (errno is not (ESTALE or ENOENT))
            {
                LastErrno = errno;
            }

            return null;
        }

        try
        {
            byte* buf = stackalloc byte[4096];
            nint n = readlink($"/proc/self/fd/{fd}", buf, 4096);
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
            _ = close(fd);
        }
    }

    public void Dispose()
    {
        int fd = _mountFd;
        _mountFd = -1;
        if (fd >= 0)
        {
            _ = close(fd);
        }
    }

    private static string Error() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int open_by_handle_at(int mountFd, byte* handle, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint readlink(string path, byte* buf, nint size);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
