using System.Globalization;
using System.Text;

namespace BpfAgent.Bench;

/// <summary>
/// The consumers' answer line (native and agent alike): "TAG key=value ...", counters cumulative since load.
/// </summary>
internal sealed record ConsumerStats(string Tag, long Produced, long ReserveFailed, long Delivered, long ChannelDropped,
    long DecodeErrors, long AllocBytes, long CpuNs, long ElapsedNs, long RssKb, long HwmKb, long Batches = 0, long WindowCpuNs = 0)
{
    public static ConsumerStats Parse(string line)
    {
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string p in parts.Skip(1))
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && long.TryParse(p[(eq + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            {
                d[p[..eq]] = v;
            }
        }

        long Get(string k) => d.TryGetValue(k, out long v) ? v : 0;
        return new ConsumerStats(parts.Length > 0 ? parts[0] : "", Get("produced"), Get("reserve_failed"), Get("delivered"),
            Get("channel_dropped"), Get("decode_errors"), Get("alloc_bytes"), Get("cpu_ns"), Get("elapsed_ns"), Get("rss_kb"), Get("hwm_kb"), Get("batches"), Get("window_cpu_ns"));
    }

    /// <summary>Counter deltas since <paramref name="earlier"/> (memory, elapsed and window CPU figures are this line's).</summary>
    public ConsumerStats Since(ConsumerStats earlier) => this with
    {
        Produced = Produced - earlier.Produced,
        ReserveFailed = ReserveFailed - earlier.ReserveFailed,
        Delivered = Delivered - earlier.Delivered,
        ChannelDropped = ChannelDropped - earlier.ChannelDropped,
        DecodeErrors = DecodeErrors - earlier.DecodeErrors,
        AllocBytes = AllocBytes - earlier.AllocBytes,
        CpuNs = CpuNs - earlier.CpuNs,
        Batches = Batches - earlier.Batches,
    };

    /// <summary>Nothing lost at any stage, and everything produced was delivered.</summary>
    public bool ZeroLoss => ReserveFailed == 0 && ChannelDropped == 0 && DecodeErrors == 0 && Delivered == Produced && Tag != "paused-timeout";

    public static string Format(string tag, long produced, long reserveFailed, long delivered, long channelDropped, long decodeErrors,
        long allocBytes, long cpuNs, long elapsedNs, long rssKb, long hwmKb, long batches = 0, long windowCpuNs = 0)
    {
        var sb = new StringBuilder(tag);
        sb.Append(CultureInfo.InvariantCulture, $" produced={produced} reserve_failed={reserveFailed} delivered={delivered}");
        sb.Append(CultureInfo.InvariantCulture, $" channel_dropped={channelDropped} decode_errors={decodeErrors} alloc_bytes={allocBytes}");
        sb.Append(CultureInfo.InvariantCulture, $" cpu_ns={cpuNs} elapsed_ns={elapsedNs} window_cpu_ns={windowCpuNs} rss_kb={rssKb} hwm_kb={hwmKb} batches={batches}");
        return sb.ToString();
    }
}
