using System.Globalization;

namespace BpfAgent.Decoding;

/// <summary>Names for raw kernel values: errno, syscall numbers, kernel symbols.</summary>
public static class ValueNames
{
    public static string Errno(long value)
    {
        // Math.Abs(long.MinValue) throws; a random or hostile sample may hold any bit pattern.
        ulong e = value < 0 ? 0UL - (ulong)value : (ulong)value;
        return e == 0 ? "0" : e <= long.MaxValue && KernelNames.Errnos.TryGetValue((long)e, out string? name) ? name : "E" + e.ToString(CultureInfo.InvariantCulture);
    }

    public static string Syscall(long nr) =>
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64
        && KernelNames.X64Syscalls.TryGetValue(nr, out string? name)
            ? name
            : "syscall_" + nr.ToString(CultureInfo.InvariantCulture);
}
