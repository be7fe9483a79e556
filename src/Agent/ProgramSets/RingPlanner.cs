using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// One configured ring checked against the object and turned into its <see cref="SampleProcessor"/>: the map, the
/// struct's layout from BTF, then each metric's value field, labels and decoders and the log line's placeholders,
/// each field looked up once. A mismatch is a <see cref="ConfigError"/> naming the key and the fix.
/// </summary>
internal static class RingPlanner
{
    public static SampleProcessor? Plan(ProgramSetConfig config, RingConfig ring, OpenBpfObject open, DecoderContext decoders,
        Serilog.ILogger eventLogger, List<ConfigError> errors)
    {
        if (Layout(config, ring, open, errors) is not EventLayout layout)
        {
            return null;
        }

        int before = errors.Count;
        var metrics = new List<MetricUpdater>();
        foreach (MetricConfig m in ring.Metrics)
        {
            int metricBefore = errors.Count;
            EventField? value = null;
            if (m.Field is not null)
            {
                value = FindField(config, layout, m.Field, $"{m.Key}.field", errors);
                if (value is not null && !value.IsInteger)
                {
                    errors.Add(new ConfigError(config.File, $"{m.Key}.field", $"field '{m.Field}' is {DescribeShape(value)}, not a number",
                        "observe an integer field"));
                }
            }

            var labels = new List<(string, FieldValueDecoder)>();
            foreach (LabelConfig l in m.Labels)
            {
                if (FindField(config, layout, l.Field, $"{l.Key}.field", errors) is EventField f
                    && Decoder(config, f, l.Decoders, decoders, $"{l.Key}.{(l.Decoders.Count > 1 ? "decoders" : "decoder")}", false, errors) is { } d)
                {
                    labels.Add((l.Name, d));
                }
            }

            if (errors.Count == metricBefore)
            {
                metrics.Add(MetricUpdater.Create(m, labels, value));
            }
        }

        EventLogWriter? log = null;
        if (ring.Log is LogConfig lc)
        {
            var fields = new List<(string, FieldValueDecoder)>();
            Serilog.Events.MessageTemplate template = EventLogWriter.Parse(lc.Message);
            foreach (string placeholder in EventLogWriter.Placeholders(template))
            {
                if (FindField(config, layout, placeholder, $"{lc.Key}.message", errors) is EventField f
                    && Decoder(config, f, lc.Decoders.GetValueOrDefault(placeholder) ?? [], decoders, $"{lc.Key}.decoders.{placeholder}", true, errors) is { } d)
                {
                    fields.Add((placeholder, d));
                }
            }

            log = new EventLogWriter(eventLogger, lc.Level, template, fields, lc.RatePerSecond, config.Name, ring.Map);
        }

        return errors.Count == before ? new SampleProcessor(layout, metrics, log) : null;
    }

    private static EventLayout? Layout(ProgramSetConfig config, RingConfig ring, OpenBpfObject open, List<ConfigError> errors)
    {
        if (!open.TryGetMap(ring.Map, out OpenBpfMap map))
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.map", $"the object has no map '{ring.Map}'",
                $"use one of its ring buffers: {string.Join(", ", open.Maps.Where(m => m.Type == BpfMapType.RingBuffer).Select(m => m.Name))}"));
            return null;
        }

        if (map.Type != BpfMapType.RingBuffer)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.map", $"map '{ring.Map}' is a {map.Type} map, not a ring buffer",
                "name a BPF_MAP_TYPE_RINGBUF map"));
            return null;
        }

        if (open.Btf is not Btf btf)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.struct", "the object has no BTF", "compile the object with clang -g"));
            return null;
        }

        try
        {
            return EventLayout.FromBtf(btf, ring.Struct);
        }
        catch (KeyNotFoundException)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.struct", $"no struct '{ring.Struct}' in the object's BTF",
                $"check the name (bpf-agent inspect {config.ObjectPath} lists the structs); if it is right, anchor it in the C source at file scope with BPF_AGENT_EVENT({ring.Struct}); (programs/include/bpf_agent.h), or a global such as struct {ring.Struct} *{ring.Struct}_anchor __attribute__((unused));"));
            return null;
        }
    }

    private static EventField? FindField(ProgramSetConfig config, EventLayout layout, string path, string key, List<ConfigError> errors)
    {
        EventField? f = layout.Find(path);
        if (f is null)
        {
            errors.Add(new ConfigError(config.File, key, $"struct '{layout.StructName}' has no field '{path}'",
                $"use one of: {string.Join(", ", layout.Fields.Select(x => x.Path))}"));
        }

        return f;
    }

    private static FieldValueDecoder? Decoder(ProgramSetConfig config, EventField field, IReadOnlyList<DecoderSpec> chain, DecoderContext decoders,
        string key, bool bytesAsString, List<ConfigError> errors)
    {
        FieldValueDecoder? d = FieldValueDecoder.Create(field, chain, decoders, out string? problem, bytesAsString);
        if (d is null)
        {
            errors.Add(new ConfigError(config.File, key, problem!, "choose a decoder that fits the field's type (see docs/configuration.md)"));
        }

        return d;
    }

    /// <summary>A field's type in the words of its C declaration, not the agent's internal names.</summary>
    internal static string DescribeShape(EventField f) => f.Shape switch
    {
        FieldShape.CharArray => $"a char array (char[{f.Size}], a string)",
        FieldShape.ByteArray => $"a byte array ({f.Size} bytes)",
        FieldShape.Enum => $"an enum of {f.Size} bytes",
        FieldShape.Signed => $"a signed integer of {f.Size} bytes",
        FieldShape.Unsigned => $"an unsigned integer of {f.Size} bytes",
        _ => $"a struct, union or other non-integer type of {f.Size} bytes",
    };
}
