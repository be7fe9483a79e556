using System.Collections.Concurrent;

namespace BpfAgent.Decoding;

/// <summary>
/// What decoders have to tell the operator once (kallsyms unreadable, pci.ids missing), and the counts they
/// keep (unknown cgroup ids, label sets a decoder dropped), which the agent's self-metrics export.
/// </summary>
public static class DecoderNotices
{
    private static readonly ConcurrentDictionary<string, byte> s_said = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, StrongBox> s_unknown = new(StringComparer.Ordinal);

    /// <summary>Messages said so far (each once).</summary>
    public static IReadOnlyCollection<string> Said => [.. s_said.Keys];

    /// <summary>Logs <paramref name="message"/> as a warning the first time only.</summary>
    public static void Once(string message)
    {
        if (s_said.TryAdd(message, 0))
        {
            Serilog.Log.Warning("Decoders: {Notice}", message);
        }
    }

    /// <summary>Counts a value <paramref name="decoder"/> could not name (it decoded to its placeholder).</summary>
    public static void Unknown(string decoder) => Interlocked.Increment(ref s_unknown.GetOrAdd(decoder, _ => new StrongBox()).Value);

    /// <summary>Unknown values by decoder.</summary>
    public static IEnumerable<KeyValuePair<string, long>> UnknownCounts =>
        s_unknown.Select(p => new KeyValuePair<string, long>(p.Key, Interlocked.Read(ref p.Value.Value)));

    public static long UnknownCount(string decoder) => s_unknown.TryGetValue(decoder, out StrongBox? b) ? Interlocked.Read(ref b.Value) : 0;

    private sealed class StrongBox
    {
        public long Value;
    }
}
