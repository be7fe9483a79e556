using System.Globalization;

namespace BpfAgent.Security;

/// <summary>
/// The capabilities the agent needs (CAP_BPF and CAP_PERFMON to load, attach, pin and read rings;
/// CAP_DAC_READ_SEARCH for classic tracepoints, which read tracefs), checked once at startup so an
/// unprivileged run fails with a message naming them instead of a bare EPERM from the kernel.
/// </summary>
public static class Capabilities
{
    public const int DacReadSearch = 2;
    public const int SysAdmin = 21;
    public const int Perfmon = 38;
    public const int Bpf = 39;

    /// <summary>The effective capability set of this process, from /proc/self/status.</summary>
    public static ulong Effective()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>Null when the needed capabilities are there, else a message naming the missing ones and the fix.</summary>
    public static string? MissingMessage(ulong effective)
    {
        bool Has(int cap) => (effective & (1UL << cap)) != 0;

        // Before CAP_BPF existed CAP_SYS_ADMIN covered both; it still does.
        bool bpf = Has(Bpf) || Has(SysAdmin);
        bool perfmon = Has(Perfmon) || Has(SysAdmin);
        var missing = new List<string>();
        if (!bpf)
        {
            missing.Add("CAP_BPF");
        }

        if (!perfmon)
        {
            missing.Add("CAP_PERFMON");
        }

        if (missing.Count == 0)
        {
            return null;
        }

        return $"bpf-agent lacks {string.Join(" and ", missing)} (it needs CAP_BPF and CAP_PERFMON to load programs, " +
            "attach them, pin maps and read ring buffers; CAP_DAC_READ_SEARCH too for tracepoints). " +
            "Run it as root or through deploy/systemd/bpf-agent.service, which grants exactly these.";
    }
}
