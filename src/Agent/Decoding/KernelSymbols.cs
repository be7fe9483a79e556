using System.Globalization;

namespace BpfAgent.Decoding;

/// <summary>
/// Kernel symbol lookup from /proc/kallsyms (addresses are only real for root or CAP_SYSLOG), loaded on
/// first use. An address resolves to the nearest symbol at or below it.
/// </summary>
public sealed class KernelSymbols
{
    public const string DefaultPath = "/proc/kallsyms";

    private readonly ulong[] _addresses;
    private readonly string[] _names;

    private KernelSymbols(string path, ulong[] addresses, string[] names)
    {
        Path = path;
        _addresses = addresses;
        _names = names;
    }

    /// <summary>The file the symbols came from.</summary>
    public string Path { get; }

    public int Count => _addresses.Length;

    public static KernelSymbols Load(string path)
    {
        var list = new List<(ulong, string)>();
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                // "ffffffff81000000 T _stext [module]"
                int s1 = line.IndexOf(' ', StringComparison.Ordinal);
                if (s1 <= 0 || s1 + 3 >= line.Length)
                {
                    continue;
                }

                char type = line[s1 + 1];
                if (type is not ('T' or 't' or 'W' or 'w'))
                {
                    continue;
                }

                if (!ulong.TryParse(line.AsSpan(0, s1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong addr) || addr == 0)
                {
                    continue;
                }

                int end = line.IndexOfAny(['\t', ' '], s1 + 3);
                list.Add((addr, end < 0 ? line[(s1 + 3)..] : line[(s1 + 3)..end]));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        // Stable sort: of several symbols at one address, the first kallsyms lists wins, every time.
        (ulong, string)[] sorted = [.. list.OrderBy(x => x.Item1)];
        return new KernelSymbols(path, sorted.Select(x => x.Item1).ToArray(), sorted.Select(x => x.Item2).ToArray());
    }

    /// <summary>
    /// kallsyms has no sizes: an address further than this past the nearest symbol below it is not in that
    /// function (no kernel function is near this large) but in data, a gap, or past the last symbol.
    /// </summary>
    public const ulong MaxDistance = 1 << 20;

    /// <summary>The symbol containing <paramref name="address"/>, or its hex form when unknown.</summary>
    public string Resolve(ulong address)
    {
        int i = Array.BinarySearch(_addresses, address);
        if (i < 0)
        {
            i = ~i - 1;
        }

        while (i > 0 && _addresses[i - 1] == _addresses[i])
        {
            i--;
        }

        return i >= 0 && address - _addresses[i] <= MaxDistance ? _names[i] : "0x" + address.ToString("x", CultureInfo.InvariantCulture);
    }
}
