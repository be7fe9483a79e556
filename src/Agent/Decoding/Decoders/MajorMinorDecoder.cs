using System.Globalization;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>majorminor</c>: a block device number as its name from /proc/partitions ("sda2"), as ebpf_exporter names it,
/// else "MAJOR:MINOR". The number is the kernel's own dev_t, what a BPF program reads from a struct or tracepoint
/// (MAJOR in the bits above 20, MINOR in the low 20: include/linux/kdev_t.h); only its low 32 bits count.
/// </summary>
public sealed class MajorMinorDecoder(string partitions) : NumberDecoder("majorminor")
{
    public const string DefaultPartitions = "/proc/partitions";

    /// <summary>MINORBITS of include/linux/kdev_t.h.</summary>
    public const int MinorBits = 20;

    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new MajorMinorDecoder(DefaultPartitions) : null;
    }

    public static (uint Major, uint Minor) Split(uint dev) => (dev >> MinorBits, dev & ((1u << MinorBits) - 1));

    protected override string? DecodeNumber(long value)
    {
        (uint major, uint minor) = Split((uint)value);
        return NameOf(major, minor) ?? $"{major}:{minor}";
    }

    /// <summary>A device not in /proc/partitions now may be added later.</summary>
    public override bool IsTransient(string? output) => output is not null && output.Contains(':', StringComparison.Ordinal);

    private string? NameOf(uint major, uint minor)
    {
        try
        {
            // "major minor  #blocks  name"
            foreach (string line in File.ReadLines(partitions))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length == 4 && uint.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint ma) && ma == major
                    && uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint mi) && mi == minor)
                {
                    return f[3];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
