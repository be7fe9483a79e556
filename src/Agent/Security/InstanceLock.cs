using System.Text;
using Tmds.Linux;

namespace BpfAgent.Security;

/// <summary>
/// One agent per pin root: an exclusive flock on the pin root directory itself (bpffs holds no regular
/// files), held for the life of the process and released by the kernel even on SIGKILL.
/// </summary>
public sealed unsafe class InstanceLock : IDisposable
{
    // Tmds.LibC has no flock(2): the raw syscall (x86-64 73, arm64 32).
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private static readonly int SysFlock = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? 32 : 73;

    private int _fd;

    private InstanceLock(int fd) => _fd = fd;

    /// <summary>Takes the lock, or returns null with <paramref name="problem"/> saying who holds it or why not.</summary>
    public static InstanceLock? TryAcquire(string directory, out string? problem)
    {
        problem = null;
        int fd;
        fixed (byte* p = Encoding.UTF8.GetBytes(directory + "\0"))
        {
            fd = LibC.open(p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW);
        }

        if (fd < 0)
        {
            problem = $"{directory}: cannot be opened for locking (errno {LibC.errno})";
            return null;
        }

        if ((int)LibC.syscall(SysFlock, fd, LockExclusive | LockNonBlocking) != 0)
        {
            int errno = LibC.errno;
            _ = LibC.close(fd);
            problem = errno == LibC.EWOULDBLOCK
                ? $"another bpf-agent is already running with the pin root {directory}; stop it, or give this one another Agent:PinRoot"
                : $"{directory}: cannot be locked (errno {errno})";
            return null;
        }

        return new InstanceLock(fd);
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = LibC.close(_fd);
            _fd = -1;
        }
    }
}
