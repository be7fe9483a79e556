using System.Globalization;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>ifname</c>: a network interface index as its name ("eth0"), from /sys/class/net. An index with no interface
/// (deleted, or not created yet) is "unknown:INDEX" and is asked again next time.
/// </summary>
public sealed class IfnameDecoder(string root) : NumberDecoder("ifname")
{
    public const string DefaultRoot = "/sys/class/net";

    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new IfnameDecoder(DefaultRoot) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        uint index = (uint)value; // an ifindex is a u32 (ebpf_exporter reads 4 bytes)
        return NameOf(root, index) ?? "unknown:" + Invariant(index);
    }

    public override bool IsTransient(string? output) => output is not null && output.StartsWith("unknown:", StringComparison.Ordinal);

    /// <summary>The interface whose /sys/class/net/NAME/ifindex is <paramref name="index"/>, or null.</summary>
    internal static string? NameOf(string root, uint index)
    {
        try
        {
            foreach (string dir in Directory.EnumerateFileSystemEntries(root))
            {
                string file = System.IO.Path.Combine(dir, "ifindex");
                if (File.Exists(file) && uint.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out uint i) && i == index)
                {
                    return System.IO.Path.GetFileName(dir);
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
