using Tmds.Linux;

namespace Bpf;

/// <summary>Process- and kernel-wide facts and switches: loaded programs, run-time statistics.</summary>
public static unsafe class BpfSystem
{
    /// <summary>Ids of every BPF program loaded in the kernel (all processes).</summary>
    public static IReadOnlyList<uint> GetLoadedProgramIds()
    {
        Libbpf.EnsureSupported();
        var ids = new List<uint>();
        uint id = 0;
        while (true)
        {
            uint next;
            int rc = Interop.Libbpf.bpf_prog_get_next_id(id, &next);
            if (rc == -Errno.ENOENT)
            {
                return ids;
            }

            Errors.Check(rc, "bpf_prog_get_next_id", null);
            ids.Add(next);
            id = next;
        }
    }

    /// <summary>
    /// Turns on the kernel's per-program run count and run time (BPF_STATS_RUN_TIME) for as long as the
    /// returned handle lives, without touching the <c>kernel.bpf_stats_enabled</c> sysctl.
    /// </summary>
    public static BpfStatsHandle EnableRunTimeStats()
    {
        Libbpf.EnsureSupported();
        int fd = Errors.Check(Interop.Libbpf.bpf_enable_stats(0), "bpf_enable_stats", "BPF_STATS_RUN_TIME");
        return new BpfStatsHandle(fd);
    }
}

/// <summary>Keeps BPF run-time statistics on while open.</summary>
public sealed class BpfStatsHandle : System.Runtime.InteropServices.SafeHandle
{
    internal BpfStatsHandle(int fd)
        : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
