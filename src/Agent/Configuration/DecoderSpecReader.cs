using System.Globalization;
using System.Text.Json;
using BpfAgent.Decoding;

namespace BpfAgent.Configuration;

/// <summary>
/// Reads decoder chains from a program set: <c>"decoder": "name"</c> (one decoder, no parameters) or
/// <c>"decoders": ["uint", {"name": "static_map", "static_map": {...}, "allow_unknown": true}, ...]</c> (a chain,
/// each item a name or an object with its parameters), and the legacy <c>"values"</c> of the <c>map</c> decoder.
/// Names are checked against <see cref="DecoderRegistry"/>; whether a decoder fits its field is checked when the
/// object's BTF is read.
/// </summary>
internal static class DecoderSpecReader
{
    private const string ChainExample = "\"decoders\": [\"uint\", {\"name\": \"static_map\", \"static_map\": {\"1\": \"one\"}}]";

    /// <summary>The chain of a label (empty: auto).</summary>
    public static IReadOnlyList<DecoderSpec> ReadLabel(JsonSection l)
    {
        string? single = l.String("decoder", fix: $"use one of: {DecoderRegistry.NameList}");
        JsonElement? chain = l.Raw("decoders");
        IReadOnlyList<(string Name, JsonElement Value)>? values = l.Properties("values");
        var specs = new List<DecoderSpec>();
        if (single is not null && chain is not null)
        {
            l.Error("decoders", "is given together with \"decoder\"", "keep one: \"decoder\" for one decoder, \"decoders\" for a chain");
        }

        if (single is not null)
        {
            AddNamed(l, "decoder", single, specs, allowMap: true);
        }
        else if (chain is JsonElement c)
        {
            specs.AddRange(ReadChain(l, "decoders", c));
        }

        if (single?.ToLowerInvariant() == "map")
        {
            return ApplyValues(l, specs, values);
        }

        if (values is not null)
        {
            l.Error("values", "only the \"map\" decoder takes values", "remove \"values\" or set \"decoder\": \"map\"");
        }

        return specs;
    }

    /// <summary>The decoder of each log placeholder that names one: a name or a chain.</summary>
    public static Dictionary<string, IReadOnlyList<DecoderSpec>> ReadLog(JsonSection s)
    {
        var decoders = new Dictionary<string, IReadOnlyList<DecoderSpec>>(StringComparer.Ordinal);
        foreach ((string field, JsonElement value) in s.Properties("decoders") ?? [])
        {
            decoders[field] = ReadChain(s, $"decoders.{field}", value);
        }

        return decoders;
    }

    /// <summary>A name or an array of names and {"name": ..., parameters} objects.</summary>
    public static List<DecoderSpec> ReadChain(JsonSection parent, string key, JsonElement value)
    {
        var specs = new List<DecoderSpec>();
        if (value.ValueKind == JsonValueKind.String)
        {
            AddNamed(parent, key, value.GetString()!, specs);
            return specs;
        }

        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            parent.Error(key, $"must be a decoder name or a non-empty list of decoders, not {JsonSection.Describe(value)}", $"write {ChainExample}");
            return specs;
        }

        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            string itemKey = $"{key}[{i++}]";
            if (item.ValueKind == JsonValueKind.String)
            {
                AddNamed(parent, itemKey, item.GetString()!, specs);
            }
            else if (item.ValueKind == JsonValueKind.Object)
            {
                var o = new JsonSection(parent.File, parent.KeyPath(itemKey), item, parent.Errors);
                if (ReadObject(o) is DecoderSpec spec)
                {
                    specs.Add(spec);
                }

                o.RejectUnknownKeys();
            }
            else
            {
                parent.Error(itemKey, $"must be a decoder name or {{\"name\": ...}}, not {JsonSection.Describe(item)}", $"write {ChainExample}");
            }
        }

        return specs;
    }

    private static void AddNamed(JsonSection parent, string key, string name, List<DecoderSpec> specs, bool allowMap = false)
    {
        name = name.ToLowerInvariant(); // names were case-insensitive before the registry; the schema asks for lowercase
        if (!DecoderRegistry.IsKnown(name))
        {
            parent.Error(key, $"'{name}' is not a decoder", $"use one of: {DecoderRegistry.NameList}");
        }
        else if (!(allowMap && name == "map") && !DecoderRegistry.PlainNames.Contains(name))
        {
            DecoderRegistry.Create(new DecoderSpec(name), DecoderContext.Default, out string? error);
            parent.Error(key, error ?? $"decoder '{name}' needs parameters", $"write it as an object with its parameters: {ChainExample}");
        }
        else
        {
            specs.Add(new DecoderSpec(name));
        }
    }

    private static DecoderSpec? ReadObject(JsonSection o)
    {
        string? name = o.String("name", required: true, $"add \"name\": one of {DecoderRegistry.NameList}");
        IReadOnlyList<string>? regexps = o.Strings("regexps");
        bool allowUnknown = o.Bool("allow_unknown", false);
        string? stackMap = o.String("stack_map", fix: "name the program's BPF_MAP_TYPE_STACK_TRACE map");
        Dictionary<string, string>? map = null;
        foreach ((string k, JsonElement v) in o.Properties("static_map") ?? [])
        {
            map ??= new Dictionary<string, string>(StringComparer.Ordinal);
            if (v.ValueKind == JsonValueKind.String)
            {
                map[k] = v.GetString()!;
            }
            else
            {
                o.Error($"static_map.{k}", $"must be a string, not {JsonSection.Describe(v)}", $"write \"{k}\": \"label value\"");
            }
        }

        if (o.Has("static_map") && map is null)
        {
            map = [];
        }

        if (name is null)
        {
            return null;
        }

        name = name.ToLowerInvariant();
        if (!DecoderRegistry.IsKnown(name))
        {
            o.Error("name", $"'{name}' is not a decoder", $"use one of: {DecoderRegistry.NameList}");
            return null;
        }

        var spec = new DecoderSpec(name) { Regexps = regexps, StaticMap = map, AllowUnknown = allowUnknown, StackMap = stackMap };
        if (DecoderRegistry.Create(spec, DecoderContext.Default, out string? error) is null)
        {
            o.Error("name", error!, "see the decoder list in docs/configuration.md");
            return null;
        }

        return spec;
    }

    // The first form of the map decoder: "decoder": "map" with "values": { "1": "name" } beside it.
    private static List<DecoderSpec> ApplyValues(JsonSection l, List<DecoderSpec> specs, IReadOnlyList<(string Name, JsonElement Value)>? values)
    {
        int map = specs.FindIndex(s => s.Name == "map");
        if (values is null)
        {
            l.Error("values", "is required by the \"map\" decoder", "add \"values\": { \"1\": \"name\", ... }");
            return specs;
        }

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string key, JsonElement value) in values)
        {
            if (!long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long k) || value.ValueKind != JsonValueKind.String)
            {
                l.Error($"values.{key}", "keys must be integers and values strings", "write \"values\": { \"1\": \"name\" }");
                continue;
            }

            names[k.ToString(CultureInfo.InvariantCulture)] = value.GetString()!;
        }

        specs[map] = specs[map] with { StaticMap = names };
        return specs;
    }
}
