using System.Runtime.InteropServices;
using System.Text;

namespace BpfAgent.Decoding;

/// <summary>
/// Follows directories being created and removed on a cgroup2 mount through fanotify (FAN_REPORT_DFID_NAME:
/// each event names the parent directory by its file handle, which on cgroup2 is the parent's 8-byte kernfs node id,
/// the same number as its inode and its cgroup id, and the entry by name). A dedicated thread blocks on the
/// fanotify fd and reports each directory event as (parent id, name); cgroup2 refuses renames, so there are none.
/// A lost event (queue overflow, a handle it cannot read, a read error) is reported as lost so the caller can walk
/// the mount again.
/// Needs CAP_SYS_ADMIN and Linux 5.9+; <see cref="TryStart"/> returns null with the reason where either is missing.
/// </summary>
public sealed partial class CgroupWatch : IDisposable
{
    // <linux/fanotify.h>, <linux/magic.h>, <linux/exportfs.h>
    private const uint FAN_CLASS_NOTIF = 0x0;
    private const uint FAN_REPORT_DFID_NAME = 0x400 | 0x800; // FAN_REPORT_DIR_FID | FAN_REPORT_NAME
    private const uint FAN_MARK_ADD = 0x1;
    private const uint FAN_MARK_FILESYSTEM = 0x100;
    private const ulong FAN_CREATE = 0x100;
    private const ulong FAN_DELETE = 0x200;
    private const ulong FAN_Q_OVERFLOW = 0x4000;
    private const ulong FAN_ONDIR = 0x4000_0000;
    private const byte FANOTIFY_METADATA_VERSION = 3;
    private const byte FAN_EVENT_INFO_TYPE_DFID_NAME = 2;
    private const int FILEID_KERNFS = 0xfe;
    private const int MetadataSize = 24; // struct fanotify_event_metadata
    private const long CGROUP2_SUPER_MAGIC = 0x63677270;
    private const uint O_RDONLY = 0;
    private const uint O_CLOEXEC = 0x80000;
    private const int EFD_CLOEXEC = 0x80000;
    private const int AT_FDCWD = -100;
    private const short POLLIN = 0x1;
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    private readonly int _fan;
    private readonly int _stop;
    private readonly Action<ulong, string> _changed;
    private readonly Action _lost;
    private readonly Thread _thread;
    private int _disposed;

    private CgroupWatch(int fan, int stop, Action<ulong, string> changed, Action lost)
    {
        _fan = fan;
        _stop = stop;
        _changed = changed;
        _lost = lost;
        _thread = new Thread(Run) { IsBackground = true, Name = "cgroup-watch" };
        _thread.Start();
    }

    /// <summary>False once the reading thread stopped on an error (it reported the loss first).</summary>
    public bool Running { get; private set; } = true;

    /// <summary>
    /// Watches the filesystem of cgroup2 mount <paramref name="mount"/>: <paramref name="changed"/>(parent id, name)
    /// for each directory created or removed, <paramref name="lost"/> when events were lost. Both are
    /// called on the watch's thread. Null, with <paramref name="why"/>, when fanotify cannot watch it here.
    /// </summary>
    public static CgroupWatch? TryStart(string mount, Action<ulong, string> changed, Action lost, out string? why)
    {
        why = null;
        if (FilesystemType(mount) is not long type)
        {
            why = $"statfs({mount}) failed: {Error()}";
            return null;
        }

        if (type != CGROUP2_SUPER_MAGIC)
        {
            why = $"{mount} is not a cgroup2 mount (filesystem type 0x{type:x})";
            return null;
        }

        int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, O_RDONLY | O_CLOEXEC);
        if (fan < 0)
        {
            why = $"fanotify_init(FAN_REPORT_DFID_NAME) failed: {Error()} (needs CAP_SYS_ADMIN and Linux 5.9+)";
            return null;
        }

        if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CREATE | FAN_DELETE | FAN_ONDIR, AT_FDCWD, mount) < 0)
        {
            why = $"fanotify_mark({mount}, FAN_MARK_FILESYSTEM) failed: {Error()} (a filesystem mark needs CAP_SYS_ADMIN)";
            _ = close(fan);
            return null;
        }

        int stop = eventfd(0, EFD_CLOEXEC);
        if (stop < 0)
        {
            why = $"eventfd failed: {Error()}";
            _ = close(fan);
            return null;
        }

        return new CgroupWatch(fan, stop, changed, lost);
    }

    private unsafe void Run()
    {
        byte[] buffer = new byte[64 * 1024];
        Span<Pollfd> fds = [new Pollfd { Fd = _fan, Events = POLLIN }, new Pollfd { Fd = _stop, Events = POLLIN }];
        while (true)
        {
            fds[0].Revents = fds[1].Revents = 0;
            int ready;
            fixed (Pollfd* p = fds)
            {
                ready = poll(p, 2, -1);
            }

            if (ready < 0 && Marshal.GetLastPInvokeError() == EINTR)
            {
                continue;
            }

            if (fds[1].Revents != 0)
            {
                return; // Dispose
            }

            nint n = ready < 0 ? -1 : Read(buffer);
            if (n < 0 && Marshal.GetLastPInvokeError() is EINTR or EAGAIN)
            {
                continue;
            }

            if (n <= 0 || !TryParse(buffer.AsSpan(0, (int)n)))
            {
                Running = false;
                _lost();
                return;
            }
        }
    }

    private unsafe nint Read(byte[] buffer)
    {
        fixed (byte* b = buffer)
        {
            return read(_fan, b, buffer.Length);
        }
    }

    // A fault in a handler must not take the process down from this thread: the watch stops, the table walks.
    private bool TryParse(ReadOnlySpan<byte> events)
    {
        try
        {
            return Parse(events);
        }
        catch (Exception)
        {
            return false;
        }
    }

    // One read's events; false when the records are not the layout this reads (a different metadata version).
    private bool Parse(ReadOnlySpan<byte> events)
    {
        while (events.Length >= MetadataSize)
        {
            uint length = MemoryMarshal.Read<uint>(events);
            ushort metadataLength = MemoryMarshal.Read<ushort>(events[6..]);
            if (events[4] != FANOTIFY_METADATA_VERSION || length < MetadataSize || length > events.Length || metadataLength > length)
            {
                return false;
            }

            ulong mask = MemoryMarshal.Read<ulong>(events[8..]);
            int fd = MemoryMarshal.Read<int>(events[16..]);
            if (fd >= 0)
            {
                _ = close(fd); // FID reporting gives FAN_NOFD; closed in case
            }

            if ((mask & FAN_Q_OVERFLOW) != 0)
            {
                _lost();
            }
            else if ((mask & FAN_ONDIR) != 0)
            {
                Report(events[metadataLength..(int)length]);
            }

            events = events[(int)length..];
        }

        return true;
    }

    // The info records after the metadata: fanotify_event_info_header (type, pad, len), fsid (8 bytes), then
    // struct file_handle (handle_bytes, handle_type, f_handle[handle_bytes]) and the entry's name, NUL-terminated.
    private void Report(ReadOnlySpan<byte> info)
    {
        while (info.Length >= 4)
        {
            ushort length = MemoryMarshal.Read<ushort>(info[2..]);
            if (length < 4 || length > info.Length)
            {
                break;
            }

            ReadOnlySpan<byte> record = info[..length];
            if (record[0] == FAN_EVENT_INFO_TYPE_DFID_NAME && record.Length >= 20)
            {
                uint handleBytes = MemoryMarshal.Read<uint>(record[12..]);
                int handleType = MemoryMarshal.Read<int>(record[16..]);
                if (handleType == FILEID_KERNFS && handleBytes == 8 && record.Length >= 28)
                {
                    ulong parent = MemoryMarshal.Read<ulong>(record[20..]);
                    ReadOnlySpan<byte> name = record[28..];
                    int end = name.IndexOf((byte)0);
                    _changed(parent, Encoding.UTF8.GetString(end < 0 ? name : name[..end]));
                    return;
                }
            }

            info = info[length..];
        }

        _lost(); // a directory event whose parent cannot be named
    }

    /// <summary>Stops the thread and closes the fanotify fd.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ulong one = 1;
        _ = write(_stop, &one, sizeof(ulong));
        _thread.Join();
        _ = close(_fan);
        _ = close(_stop);
    }

    private static unsafe long? FilesystemType(string path)
    {
        byte* buf = stackalloc byte[256]; // struct statfs is 120 bytes on 64-bit; f_type is its first word
        return statfs(path, buf) == 0 ? *(long*)buf : null;
    }

    private static string Error() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    [StructLayout(LayoutKind.Sequential)]
    private struct Pollfd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fanotify_init(uint flags, uint eventFlags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fanotify_mark(int fd, uint flags, ulong mask, int dirfd, string path);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, byte* buf);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(Pollfd* fds, ulong nfds, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, void* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
