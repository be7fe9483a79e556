using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// Parses a YAML file into the JSON tree the configuration readers walk, so a YAML file is checked by the same
/// typed getters (file, key path, fix; unknown keys refused) as a JSON one. Plain scalars are typed the way YAML's
/// core schema (and ebpf_exporter's Go parser) types them: integers (decimal, 0x, 0o), floats, booleans, null;
/// quoted scalars are strings.
/// </summary>
internal static class YamlDocument
{
    /// <summary>The document's root as JSON, or null with the syntax error (its line and column) in <paramref name="errors"/>.</summary>
    public static JsonDocument? Parse(string file, List<ConfigError> errors)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add(new ConfigError(file, "", $"cannot be read: {e.Message}", "check the file and its permissions"));
            return null;
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            string message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            errors.Add(new ConfigError(file, $"line {e.Start.Line}, column {e.Start.Column}", $"invalid YAML: {message}",
                "fix the YAML syntax (indentation with spaces, \"key: value\" pairs, \"- \" before list items)"));
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            errors.Add(new ConfigError(file, "", "is empty", "write the ebpf_exporter config: metrics.counters and metrics.histograms"));
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            errors.Add(new ConfigError(file, "", $"holds {stream.Documents.Count} YAML documents", "keep one document per file (remove the extra \"---\")"));
            return null;
        }

        JsonNode? root = ToJson(stream.Documents[0].RootNode);
        return JsonDocument.Parse(root?.ToJsonString() ?? "null");
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(KeyText(p.Key), ToJson(p.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode s => Scalar(s),
        _ => null, // aliases are resolved by the loader
    };

    private static string KeyText(YamlNode key) => key is YamlScalarNode s ? s.Value ?? "" : key.ToString();

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        string v = s.Value ?? "";
        if (s.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(v);
        }

        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (Integer(v) is decimal i)
        {
            return JsonValue.Create(i);
        }

        if (v.Length > 0 && (char.IsDigit(v[0]) || v[0] is '-' or '+' or '.')
            && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(v);
    }

    private static decimal? Integer(string v)
    {
        bool negative = v.StartsWith('-');
        string digits = v.TrimStart('-', '+');
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && ulong.TryParse(digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex))
        {
            return negative ? -(decimal)hex : hex;
        }

        if (digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase) && digits.Length > 2 && digits[2..].All(c => c is >= '0' and <= '7'))
        {
            decimal octal = digits[2..].Aggregate(0m, (acc, c) => (acc * 8) + (c - '0'));
            return negative ? -octal : octal;
        }

        return digits.Length > 0 && digits.All(char.IsAsciiDigit) && decimal.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out decimal dec)
            ? dec
            : null;
    }
}
