using System.Globalization;
using System.Runtime.InteropServices;

namespace BpfAgent.Decoding;

/// <summary>Names for raw kernel values: errno and syscall numbers.</summary>
public static class ValueNames
{
    public static string Errno(long value)
    {
        // Math.Abs(long.MinValue) throws; a random or hostile sample may hold any bit pattern.
        ulong e = value < 0 ? 0UL - (ulong)value : (ulong)value;
        return e == 0 ? "0" : e <= long.MaxValue && KernelNames.Errnos.TryGetValue((long)e, out string? name) ? name : "E" + e.ToString(CultureInfo.InvariantCulture);
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
            : "syscall_" + nr.ToString(CultureInfo.InvariantCulture);
}
