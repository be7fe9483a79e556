using System.Globalization;
using System.Runtime.InteropServices;

namespace BpfAgent.Decoding;

/// <summary>
/// Names for raw kernel values: errno and syscall numbers. A number without a name reads as ebpf_exporter writes it
/// (<c>unknown:N</c>, <c>unknown_syscall:N</c>), so its dashboards match either exporter.
/// </summary>
public static class ValueNames
{
    public static string Errno(long value)
    {
        // Math.Abs(long.MinValue) throws; a random or hostile sample may hold any bit pattern.
        ulong e = value < 0 ? 0UL - (ulong)value : (ulong)value;
        return e == 0 ? "0" : e <= long.MaxValue && KernelNames.Errnos.TryGetValue((long)e, out string? name) ? name : "unknown:" + e.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The syscall table of <paramref name="architecture"/> (x86-64 or arm64), or null for another.</summary>
    public static IReadOnlyDictionary<long, string>? SyscallTable(Architecture architecture) => architecture switch
    {
        Architecture.X64 => KernelNames.X64Syscalls,
        Architecture.Arm64 => KernelNames.Arm64Syscalls,
        _ => null,
    };

    /// <summary>The name of syscall <paramref name="nr"/> on <paramref name="architecture"/> (default: this process's).</summary>
    public static string Syscall(long nr, Architecture? architecture = null) =>
        SyscallTable(architecture ?? RuntimeInformation.ProcessArchitecture) is { } table && table.TryGetValue(nr, out string? name)
            ? name
            : "unknown_syscall:" + nr.ToString(CultureInfo.InvariantCulture);
}
