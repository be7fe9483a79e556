using System.Globalization;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// ebpf_exporter's <c>kaddrs</c>: a parameter value <c>"$kaddr:SYMBOL"</c> stands for the symbol's address in
/// /proc/kallsyms (any symbol type: text, data, bss), written into the <c>kaddr_SYMBOL</c> global before load.
/// Addresses are only real for root or CAP_SYSLOG (and kernel.kptr_restrict below 2): zeros mean hidden, an error.
/// </summary>
public static class KernelAddressValue
{
    public const string Prefix = "$kaddr:";

    private static readonly Lock s_lock = new();
    private static Dictionary<string, ulong>? s_addresses;

    /// <summary>The address of <paramref name="symbol"/>, or null with why not.</summary>
    public static ulong? Resolve(string symbol, out string? problem, string path = "/proc/kallsyms")
    {
        Dictionary<string, ulong>? table = Table(path, out problem);
        if (table is null)
        {
            return null;
        }

        if (!table.TryGetValue(symbol, out ulong address))
        {
            problem = $"kernel symbol '{symbol}' is not in {path}";
            return null;
        }

        if (address == 0)
        {
            problem = $"{path} shows the address of '{symbol}' as 0: addresses are hidden from this process (it needs CAP_SYSLOG, and kernel.kptr_restrict below 2)";
            return null;
        }

        return address;
    }

    private static Dictionary<string, ulong>? Table(string path, out string? problem)
    {
        problem = null;
        lock (s_lock)
        {
            if (s_addresses is not null && path == "/proc/kallsyms")
            {
                return s_addresses;
            }

            var table = new Dictionary<string, ulong>(StringComparer.Ordinal);
            try
            {
                foreach (string line in File.ReadLines(path))
                {
                    // "ffffffff81000000 T _stext", module symbols with "\t[module]" after the name
                    string[] parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length >= 3 && ulong.TryParse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong address))
                    {
                        table.TryAdd(parts[2], address);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"{path} cannot be read: {e.Message}";
                return null;
            }

            if (path == "/proc/kallsyms")
            {
                s_addresses = table;
            }

            return table;
        }
    }
}
