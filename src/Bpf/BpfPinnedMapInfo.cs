using System.Globalization;

namespace Bpf;

/// <summary>
/// What a map pinned in bpffs is, read without loading any object: type, key and value size, entries, flags, id and
/// the memory the kernel charges for it (from <c>/proc/self/fdinfo</c> of an fd opened with <c>bpf_obj_get</c>).
/// </summary>
public sealed record BpfPinnedMapInfo(string Path, string Type, int KeySize, int ValueSize, long MaxEntries, uint Flags, uint Id, long MemlockBytes)
{
    /// <summary>Opens the pin, reads its description and closes it again. Throws <see cref="BpfException"/> when it cannot be opened.</summary>
    public static BpfPinnedMapInfo Read(string path)
    {
        int fd = Errors.Check(Interop.Libbpf.bpf_obj_get(path), "bpf_obj_get", path);
        try
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    fields[line[..colon]] = line[(colon + 1)..].Trim();
                }
            }

            if (!fields.TryGetValue("map_type", out string? type))
            {
                throw new BpfException($"{path}: not a pinned map (a program or link)");
            }

            return new BpfPinnedMapInfo(path,
                int.TryParse(type, NumberStyles.Integer, CultureInfo.InvariantCulture, out int t) ? ((BpfMapType)t).ToString() : type,
                (int)Number(fields, "key_size"), (int)Number(fields, "value_size"), Number(fields, "max_entries"),
                (uint)Number(fields, "map_flags", NumberStyles.HexNumber), (uint)Number(fields, "map_id"), Number(fields, "memlock"));
        }
        finally
        {
            _ = Tmds.Linux.LibC.close(fd);
        }
    }

    private static long Number(Dictionary<string, string> fields, string key, NumberStyles style = NumberStyles.Integer)
    {
        string? v = fields.GetValueOrDefault(key);
        if (v is not null && style == NumberStyles.HexNumber && v.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            v = v[2..];
        }

        return long.TryParse(v, style, CultureInfo.InvariantCulture, out long n) ? n : 0;
    }
}
