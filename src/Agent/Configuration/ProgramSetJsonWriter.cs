using System.Text;
using System.Text.Json;
using BpfAgent.Decoding;

namespace BpfAgent.Configuration;

/// <summary>
/// Writes a program set as a native <c>programs.d/&lt;set&gt;.json</c> that reads back to the same set (what
/// <c>bpf-agent convert</c> prints for an ebpf_exporter config). Covers what such sets hold: the object,
/// parameters and map metrics.
/// </summary>
public static class ProgramSetJsonWriter
{
    public static string Write(ProgramSetConfig set)
    {
        if (set.RingBuffers.Count > 0 || set.Variants.Count > 0)
        {
            throw new NotSupportedException("only sets of map metrics and parameters are written");
        }

        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("$schema", "../schema/program-set.schema.json");
            w.WriteString("$comment", $"Converted from {Path.GetFileName(set.File)} (ebpf_exporter's format) by bpf-agent convert.");
            w.WriteString("object", set.ObjectPath);
            if (set.Parameters.Count > 0)
            {
                w.WriteStartObject("parameters");
                foreach (ParameterConfig p in set.Parameters)
                {
                    w.WritePropertyName(p.Name);
                    p.Value.WriteTo(w);
                }

                w.WriteEndObject();
            }

            w.WriteStartArray("maps");
            foreach (MapConfig map in set.Maps)
            {
                w.WriteStartObject();
                w.WriteString("map", map.Map);
                w.WriteStartArray("metrics");
                foreach (MapMetricConfig m in map.Metrics)
                {
                    WriteMetric(w, m);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (set.CgroupIdMaps.Count > 0)
            {
                w.WriteStartArray("cgroupIdMaps");
                foreach (CgroupIdMapConfig c in set.CgroupIdMaps)
                {
                    w.WriteStartObject();
                    w.WriteString("map", c.Map);
                    w.WriteStartArray("regexps");
                    foreach (string r in c.Regexps)
                    {
                        w.WriteStringValue(r);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteMetric(Utf8JsonWriter w, MapMetricConfig m)
    {
        w.WriteStartObject();
        w.WriteString("name", m.Name);
        w.WriteString("type", m.Kind.ToString().ToLowerInvariant());
        w.WriteString("help", m.Help);
        if (m.Value is not null)
        {
            w.WriteString("value", m.Value);
        }

        if (m.Scale != 1)
        {
            w.WriteNumber("scale", m.Scale);
        }

        if (m.Labels.Count > 0)
        {
            w.WriteStartArray("labels");
            foreach (LabelConfig l in m.Labels)
            {
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteString("field", l.Field);
                if (l.Decoders.Count > 0)
                {
                    w.WriteStartArray("decoders");
                    foreach (DecoderSpec d in l.Decoders)
                    {
                        WriteDecoder(w, d);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (m.CpuLabel is not null)
        {
            w.WriteString("cpuLabel", m.CpuLabel);
        }

        if (m.Buckets is MapBucketsConfig b)
        {
            w.WriteStartObject("buckets");
            w.WriteString("field", b.Field);
            w.WriteString("type", b.Kind.ToString().ToLowerInvariant());
            if (b.Kind == BucketKind.Fixed)
            {
                w.WriteStartArray("keys");
                foreach (double k in b.Keys ?? [])
                {
                    w.WriteNumberValue(k);
                }

                w.WriteEndArray();
            }
            else
            {
                w.WriteNumber("min", b.Min);
                w.WriteNumber("max", b.Max);
            }

            w.WriteNumber("multiplier", b.Multiplier);
            if (b.LeFormat != LeFormat.Decimal)
            {
                w.WriteString("le", b.LeFormat.ToString().ToLowerInvariant());
            }

            w.WriteEndObject();
        }

        if (m.SumField is not null)
        {
            w.WriteStartObject("sum");
            w.WriteString("field", m.SumField);
            w.WriteNumber("scale", m.SumScale);
            w.WriteEndObject();
        }

        w.WriteNumber("maxSeries", m.MaxSeries);
        w.WriteEndObject();
    }

    private static void WriteDecoder(Utf8JsonWriter w, DecoderSpec d)
    {
        if (d.Regexps is null && d.StaticMap is null && !d.AllowUnknown && d.StackMap is null)
        {
            w.WriteStringValue(d.Name);
            return;
        }

        w.WriteStartObject();
        w.WriteString("name", d.Name);
        if (d.Regexps is not null)
        {
            w.WriteStartArray("regexps");
            foreach (string r in d.Regexps)
            {
                w.WriteStringValue(r);
            }

            w.WriteEndArray();
        }

        if (d.StaticMap is not null)
        {
            w.WriteStartObject("static_map");
            foreach ((string k, string v) in d.StaticMap)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
        }

        if (d.AllowUnknown)
        {
            w.WriteBoolean("allow_unknown", true);
        }

        if (d.StackMap is not null)
        {
            w.WriteString("stack_map", d.StackMap);
        }

        w.WriteEndObject();
    }
}
