using System.Globalization;

namespace BpfAgent.Decoding;

/// <summary>
/// The PCI names of the system's pci.ids (Debian's <c>pci.ids</c> package): vendors, devices by vendor, classes
/// and subclasses. A missing file gives an empty table whose <see cref="Missing"/> says why.
/// </summary>
public sealed class PciIds
{
    public const string DefaultPath = "/usr/share/misc/pci.ids";

    /// <summary>The label every pci_* decoder gives when the file is missing (ebpf_exporter's text).</summary>
    public const string MissingText = "missing pci.ids db";

    private readonly Dictionary<ushort, string> _vendors = [];
    private readonly Dictionary<uint, string> _devices = [];
    private readonly Dictionary<byte, string> _classes = [];
    private readonly Dictionary<ushort, string> _subclasses = [];

    private PciIds(string path) => Path = path;

    public string Path { get; }

    /// <summary>Why there are no names (the file is missing or unreadable), or null.</summary>
    public string? Missing { get; private set; }

    public int VendorCount => _vendors.Count;

    public string? Vendor(ushort vendor) => _vendors.GetValueOrDefault(vendor);

    public string? Device(ushort vendor, ushort device) => _devices.GetValueOrDefault(((uint)vendor << 16) | device);

    public string? Class(byte classId) => _classes.GetValueOrDefault(classId);

    public string? Subclass(byte classId, byte subclass) => _subclasses.GetValueOrDefault((ushort)((classId << 8) | subclass));

    /// <summary>Says once, in the log, that the names are missing and how to get them.</summary>
    public void NoteMissing()
    {
        if (Missing is not null)
        {
            DecoderNotices.Once($"{Missing}: pci_* labels read \"{MissingText}\"; install Debian's pci.ids package (apt-get install pci.ids)");
        }
    }

    public static PciIds Load(string path)
    {
        var ids = new PciIds(path);
        try
        {
            ids.Parse(File.ReadLines(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ids.Missing = $"{path} cannot be read ({e.Message})";
        }

        return ids;
    }

    /// <summary>Parses pci.ids text (for tests: a table without the file).</summary>
    public static PciIds Parse(string path, IEnumerable<string> lines)
    {
        var ids = new PciIds(path);
        ids.Parse(lines);
        return ids;
    }

    private void Parse(IEnumerable<string> lines)
    {
        // "vvvv  name", "\tdddd  name", "\t\tssss ssss  name" (subsystems: not used); "C cc  name", "\tss  name", "\t\tpp  name".
        int vendor = -1;
        int cls = -1;
        foreach (string line in lines)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] != '\t')
            {
                vendor = cls = -1;
                if (line.StartsWith("C ", StringComparison.Ordinal) && Hex(line.AsSpan(2), 2, out uint c, out string name))
                {
                    cls = (int)c;
                    _classes[(byte)c] = name;
                }
                else if (Hex(line, 4, out uint v, out name))
                {
                    vendor = (int)v;
                    _vendors[(ushort)v] = name;
                }

                continue;
            }

            if (line.Length > 1 && line[1] == '\t')
            {
                continue; // subsystems and programming interfaces
            }

            if (vendor >= 0 && Hex(line.AsSpan(1), 4, out uint d, out string device))
            {
                _devices[((uint)vendor << 16) | d] = device;
            }
            else if (cls >= 0 && Hex(line.AsSpan(1), 2, out uint s, out string sub))
            {
                _subclasses[(ushort)((cls << 8) | (int)s)] = sub;
            }
        }
    }

    private static bool Hex(ReadOnlySpan<char> text, int digits, out uint value, out string name)
    {
        name = "";
        value = 0;
        if (text.Length < digits + 2 || text[digits] != ' ' || !uint.TryParse(text[..digits], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value))
        {
            return false;
        }

        name = text[(digits + 1)..].Trim().ToString();
        return true;
    }
}
