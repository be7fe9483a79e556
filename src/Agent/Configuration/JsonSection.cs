using System.Globalization;
using System.Text.Json;

namespace BpfAgent.Configuration;

/// <summary>
/// A JSON object being read as configuration: typed getters that record a <see cref="ConfigError"/> (file, key,
/// fix) instead of throwing, and a final check that every key was known, so one pass lists every problem.
/// </summary>
internal sealed class JsonSection
{
    private readonly JsonElement _element;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public JsonSection(string file, string path, JsonElement element, List<ConfigError> errors)
    {
        File = file;
        Path = path;
        _element = element;
        Errors = errors;
    }

    public string File { get; }

    public string Path { get; }

    public List<ConfigError> Errors { get; }

    public string KeyPath(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public void Error(string key, string problem, string fix) => Errors.Add(new ConfigError(File, KeyPath(key), problem, fix));

    private bool TryGet(string key, out JsonElement value)
    {
        _known.Add(key);
        if (_element.ValueKind == JsonValueKind.Object && _element.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public bool Has(string key) => TryGet(key, out _);

    public string? String(string key, bool required = false, string? fix = null)
    {
        if (!TryGet(key, out JsonElement v))
        {
            if (required)
            {
                Error(key, "is required", fix ?? $"add \"{key}\"");
            }

            return null;
        }

        if (v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
        {
            Error(key, $"must be a non-empty string, not {Describe(v)}", fix ?? $"write \"{key}\": \"...\"");
            return null;
        }

        return v.GetString();
    }

    public T? Enum<T>(string key, T? fallback, bool required = false)
        where T : struct, System.Enum
    {
        string? s = String(key, required, $"use one of: {string.Join(", ", Names<T>())}");
        if (s is null)
        {
            return fallback;
        }

        if (System.Enum.TryParse(s, ignoreCase: true, out T value) && System.Enum.IsDefined(value) && !char.IsDigit(s[0]))
        {
            return value;
        }

        string? close = DidYouMean.Closest(s, Names<T>());
        Error(key, $"'{s}' is not a valid value", close is not null ? $"did you mean \"{close}\"? (one of: {string.Join(", ", Names<T>())})" : $"use one of: {string.Join(", ", Names<T>())}");
        return fallback;
    }

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out JsonElement v))
        {
            return fallback;
        }

        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return v.GetBoolean();
        }

        Error(key, $"must be true or false, not {Describe(v)}", $"write \"{key}\": true or false");
        return fallback;
    }

    public double Number(string key, double fallback, double min = double.MinValue, double max = double.MaxValue)
    {
        if (!TryGet(key, out JsonElement v))
        {
            return fallback;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || double.IsNaN(d))
        {
            Error(key, $"must be a number, not {Describe(v)}", $"write \"{key}\": a number");
            return fallback;
        }

        if (d < min || d > max)
        {
            Error(key, $"{d.ToString(CultureInfo.InvariantCulture)} is out of range", $"use a value from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }

        return d;
    }

    public int Int(string key, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        double d = Number(key, fallback, min, max);
        if (d != Math.Floor(d))
        {
            Error(key, $"must be a whole number, not {d.ToString(CultureInfo.InvariantCulture)}", "remove the fraction");
            return fallback;
        }

        return (int)d;
    }

    public JsonSection? Object(string key, bool required = false)
    {
        if (!TryGet(key, out JsonElement v))
        {
            if (required)
            {
                Error(key, "is required", $"add \"{key}\": {{ ... }}");
            }

            return null;
        }

        if (v.ValueKind != JsonValueKind.Object)
        {
            Error(key, $"must be an object, not {Describe(v)}", $"write \"{key}\": {{ ... }}");
            return null;
        }

        return new JsonSection(File, KeyPath(key), v, Errors);
    }

    /// <summary>The raw element of a key (for values whose type varies), marking it known.</summary>
    public JsonElement? Raw(string key) => TryGet(key, out JsonElement v) ? v : null;

    public IReadOnlyList<JsonSection> Objects(string key, bool required = false)
    {
        var list = new List<JsonSection>();
        if (!TryGet(key, out JsonElement v))
        {
            if (required)
            {
                Error(key, "is required", $"add \"{key}\": [ {{ ... }} ]");
            }

            return list;
        }

        if (v.ValueKind != JsonValueKind.Array)
        {
            Error(key, $"must be an array, not {Describe(v)}", $"write \"{key}\": [ ... ]");
            return list;
        }

        int i = 0;
        foreach (JsonElement item in v.EnumerateArray())
        {
            string path = $"{KeyPath(key)}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                Errors.Add(new ConfigError(File, path, $"must be an object, not {Describe(item)}", "write { ... }"));
                continue;
            }

            list.Add(new JsonSection(File, path, item, Errors));
        }

        return list;
    }

    public IReadOnlyList<string>? Strings(string key)
    {
        if (!TryGet(key, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            Error(key, $"must be an array of strings, not {Describe(v)}", $"write \"{key}\": [\"a\", \"b\"]");
            return null;
        }

        return v.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>The properties of a JSON object whose keys are free-form (a map), marking the key known.</summary>
    public IReadOnlyList<(string Name, JsonElement Value)>? Properties(string key)
    {
        if (!TryGet(key, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Object)
        {
            Error(key, $"must be an object, not {Describe(v)}", $"write \"{key}\": {{ \"name\": value }}");
            return null;
        }

        return v.EnumerateObject().Select(p => (p.Name, p.Value)).ToList();
    }

    /// <summary>Records an error for every key this section did not read: a typo must not pass silently.</summary>
    public void RejectUnknownKeys()
    {
        if (_element.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (JsonProperty p in _element.EnumerateObject())
        {
            if (!_known.Contains(p.Name) && p.Name != "$schema" && p.Name != "$comment")
            {
                string? close = DidYouMean.Closest(p.Name, _known);
                Error(p.Name, "is not a known key",
                    close is not null ? $"did you mean \"{close}\"?" : $"remove it; known keys here: {string.Join(", ", _known.Order(StringComparer.Ordinal))}");
            }
        }
    }

    internal static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{v.GetString()}\"",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {v.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static IEnumerable<string> Names<T>()
        where T : struct, System.Enum => System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant());
}
