using System.Buffers.Binary;
using System.Globalization;
using Bpf;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Exposition;
using YamlDotNet.RepresentationModel;

namespace BpfAgent.Tests.EbpfExporter;

/// <summary>
/// What an ebpf_exporter config should export, computed by the test on its own: the config's YAML read here,
/// each of its maps read through the binding (its pin), every key cut by the labels' size and padding as
/// ebpf_exporter cuts it (bytes, not BTF fields: the agent's translation to fields is what is checked), each
/// slice decoded by its chain, equal label sets summed, histograms built from their bucket label. The result is
/// one text line per sample, to compare with a scrape.
/// </summary>
internal static class ExporterExpectedSeries
{
    public static SortedSet<string> Compute(string yamlFile, Func<string, string> pinOf)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(yamlFile)));
        var metrics = (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["metrics"];
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        foreach (YamlMappingNode c in Items(metrics, "counters"))
        {
            Counter(c, pinOf(Text(c, "name")), lines);
        }

        foreach (YamlMappingNode h in Items(metrics, "histograms"))
        {
            Histogram(h, pinOf(Text(h, "name")), lines);
        }

        return lines;
    }

    /// <summary>One sample line as the comparison writes it: name, labels sorted, value in round-trip text.</summary>
    public static string Line(string name, IEnumerable<KeyValuePair<string, string>> labels, double value) =>
        $"{name}{{{string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"))}}} {value.ToString("R", CultureInfo.InvariantCulture)}";

    private static void Counter(YamlMappingNode c, string pin, SortedSet<string> lines)
    {
        List<Label> labels = Labels(c);
        string[] outputs = c.Children.ContainsKey("values")
            ? [.. Items(c, "values").Select(v => Text(v, "name"))]
            : [Text(c, "name")];
        bool cpuLabel = labels.Count > 0 && labels[^1].Name == "cpu";
        var sums = new Dictionary<string, (List<KeyValuePair<string, string>> Labels, double[] Values)>(StringComparer.Ordinal);
        foreach ((byte[] key, List<byte[]> perCpu) in Entries(pin))
        {
            IEnumerable<(int Cpu, byte[] Value)> values = cpuLabel ? perCpu.Select((v, i) => (i, v)) : [(-1, Sum(perCpu, outputs.Length))];
            foreach ((int cpu, byte[] value) in values)
            {
                List<KeyValuePair<string, string>>? decoded = Decode(key, cpuLabel ? labels[..^1] : labels);
                if (decoded is null)
                {
                    continue;
                }

                if (cpuLabel)
                {
                    decoded.Add(new("cpu", cpu.ToString(CultureInfo.InvariantCulture)));
                }

                string id = string.Join("\u0001", decoded.Select(p => p.Value));
                if (!sums.TryGetValue(id, out var s))
                {
                    sums[id] = s = (decoded, new double[outputs.Length]);
                }

                for (int i = 0; i < outputs.Length; i++)
                {
                    s.Values[i] += BinaryPrimitives.ReadUInt64LittleEndian(value.AsSpan(i * 8, 8));
                }
            }
        }

        foreach ((List<KeyValuePair<string, string>> l, double[] v) in sums.Values)
        {
            for (int i = 0; i < outputs.Length; i++)
            {
                lines.Add(Line("ebpf_exporter_" + outputs[i], l, v[i]));
            }
        }
    }

    private static void Histogram(YamlMappingNode h, string pin, SortedSet<string> lines)
    {
        string name = "ebpf_exporter_" + Text(h, "name");
        string type = Text(h, "bucket_type");
        double m = h.Children.ContainsKey("bucket_multiplier") ? Number(h, "bucket_multiplier") : 1;
        double[] indexes = type == "fixed"
            ? [.. Items<YamlScalarNode>(h, "bucket_keys").Select(k => double.Parse(k.Value!, CultureInfo.InvariantCulture))]
            : [.. Enumerable.Range((int)Number(h, "bucket_min"), (int)Number(h, "bucket_max") - (int)Number(h, "bucket_min") + 1).Select(i => (double)i)];
        double sumIndex = indexes[^1] + 1;
        double[] bounds = [.. indexes.Select(i => type switch
        {
            "exp2" => Math.Pow(2, i) * m,
            "exp2zero" => i == 0 ? 0 : Math.Pow(2, i - 1) * m,
            _ => i * m,
        })];
        List<Label> labels = Labels(h);
        var series = new Dictionary<string, (List<KeyValuePair<string, string>> Labels, Dictionary<double, double> Buckets)>(StringComparer.Ordinal);
        foreach ((byte[] key, List<byte[]> perCpu) in Entries(pin))
        {
            List<KeyValuePair<string, string>>? decoded = Decode(key, labels);
            if (decoded is null)
            {
                continue;
            }

            double bucket = double.Parse(decoded[^1].Value, CultureInfo.InvariantCulture);
            decoded.RemoveAt(decoded.Count - 1);
            string id = string.Join("\u0001", decoded.Select(p => p.Value));
            if (!series.TryGetValue(id, out var s))
            {
                series[id] = s = (decoded, []);
            }

            s.Buckets[bucket] = s.Buckets.GetValueOrDefault(bucket) + BinaryPrimitives.ReadUInt64LittleEndian(Sum(perCpu, 1));
        }

        foreach ((List<KeyValuePair<string, string>> l, Dictionary<double, double> b) in series.Values)
        {
            double cumulative = 0;
            for (int i = 0; i < indexes.Length; i++)
            {
                cumulative += b.GetValueOrDefault(indexes[i]);
                lines.Add(Line(name + "_bucket", [.. l, new("le", GoFloat.Format(bounds[i]))], cumulative));
            }

            lines.Add(Line(name + "_bucket", [.. l, new("le", "+Inf")], cumulative));
            lines.Add(Line(name + "_sum", l, b.GetValueOrDefault(sumIndex) * m));
            lines.Add(Line(name + "_count", l, cumulative));
        }
    }

    private sealed record Label(string Name, int Size, int Padding, List<DecoderSpec> Decoders);

    private static List<Label> Labels(YamlMappingNode metric) =>
        [.. Items(metric, "labels").Select(l => new Label(Text(l, "name"), (int)Number(l, "size"),
            l.Children.ContainsKey("padding") ? (int)Number(l, "padding") : 0, [.. Items(l, "decoders").Select(Spec)]))];

    private static DecoderSpec Spec(YamlMappingNode d) => new(Text(d, "name"))
    {
        Regexps = d.Children.ContainsKey("regexps") ? [.. Items<YamlScalarNode>(d, "regexps").Select(r => r.Value!)] : null,
        StaticMap = d.Children.TryGetValue("static_map", out YamlNode? map)
            ? ((YamlMappingNode)map).Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ((YamlScalarNode)p.Value).Value!)
            : null,
        AllowUnknown = d.Children.TryGetValue("allow_unknown", out YamlNode? a) && ((YamlScalarNode)a).Value == "true",
    };

    // Each label's chain on its slice of the key, as ebpf_exporter cuts it; null when a decoder drops the set.
    private static List<KeyValuePair<string, string>>? Decode(byte[] key, List<Label> labels)
    {
        var values = new List<KeyValuePair<string, string>>();
        int offset = 0;
        foreach (Label l in labels)
        {
            FieldValueDecoder decoder = FieldValueDecoder.Create(EventField.At(l.Name, 0, l.Size, FieldShape.ByteArray), l.Decoders, DecoderContext.Default, out string? error)
                ?? throw new InvalidOperationException($"label {l.Name}: {error}");
            string? text = decoder.Label(key.AsSpan(offset, l.Size));
            if (text is null)
            {
                return null;
            }

            values.Add(new(l.Name, text));
            offset += l.Size + l.Padding;
        }

        Assert.Equal(labels.Count == 0 ? 0 : key.Length, offset); // no labels: ebpf_exporter reads the array's key 0
        return values;
    }

    private static IEnumerable<(byte[] Key, List<byte[]> PerCpu)> Entries(string pin)
    {
        using PinnedBpfMap map = PinnedBpfMap.Open(pin);
        var reader = new BpfMapReader(map);
        var entries = new List<(byte[], List<byte[]>)>();
        int n;
        while ((n = reader.ReadNext()) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                var perCpu = new List<byte[]>();
                for (int cpu = 0; cpu < (reader.IsPerCpu ? reader.CpuCount : 1); cpu++)
                {
                    perCpu.Add(reader.IsPerCpu ? reader.GetValue(i, cpu).ToArray() : reader.GetValue(i).ToArray());
                }

                entries.Add((reader.GetKey(i).ToArray(), perCpu));
            }
        }

        return entries;
    }

    // The u64s of the value summed over CPUs, as bytes again.
    private static byte[] Sum(List<byte[]> perCpu, int words)
    {
        var sum = new byte[words * 8];
        for (int w = 0; w < words; w++)
        {
            ulong total = 0;
            foreach (byte[] v in perCpu)
            {
                total += BinaryPrimitives.ReadUInt64LittleEndian(v.AsSpan(w * 8, 8));
            }

            BinaryPrimitives.WriteUInt64LittleEndian(sum.AsSpan(w * 8, 8), total);
        }

        return sum;
    }

    private static IEnumerable<YamlMappingNode> Items(YamlMappingNode node, string key) => Items<YamlMappingNode>(node, key);

    private static IEnumerable<T> Items<T>(YamlMappingNode node, string key)
        where T : YamlNode =>
        node.Children.TryGetValue(key, out YamlNode? n) ? ((YamlSequenceNode)n).Children.Cast<T>() : [];

    private static string Text(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;

    private static double Number(YamlMappingNode node, string key) => double.Parse(Text(node, key), CultureInfo.InvariantCulture);
}
