using System.Globalization;
using System.Text;

namespace BpfAgent.Metrics.Exposition;

/// <summary>Numbers, names and escapes as the Prometheus text format (0.0.4) and OpenMetrics 1.0 write them.</summary>
public static class PrometheusText
{
    /// <summary>
    /// A number in plain decimal where it fits (0.000001, not 1E-06), the shortest text that reads back as the same
    /// double; +Inf, -Inf and NaN as the formats spell them.
    /// </summary>
    public static string Number(double v)
    {
        if (double.IsPositiveInfinity(v))
        {
            return "+Inf";
        }

        if (double.IsNegativeInfinity(v))
        {
            return "-Inf";
        }

        if (double.IsNaN(v))
        {
            return "NaN";
        }

        string shortest = v.ToString("R", CultureInfo.InvariantCulture);
        if (!shortest.Contains('E', StringComparison.Ordinal))
        {
            return shortest;
        }

        // decimal holds 28 digits: enough for every bound and sum people write (1e-28 .. 7.9e28).
        return decimal.TryParse(shortest, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d)
            ? d.ToString(CultureInfo.InvariantCulture)
            : shortest;
    }

    /// <summary><see cref="Number"/> appended without a string, where the shortest form has no exponent (the common case).</summary>
    public static StringBuilder AppendNumber(StringBuilder sb, double v)
    {
        Span<char> buffer = stackalloc char[32];
        if (double.IsFinite(v) && v.TryFormat(buffer, out int n, "R", CultureInfo.InvariantCulture) && !buffer[..n].Contains('E'))
        {
            return sb.Append(buffer[..n]);
        }

        return sb.Append(Number(v));
    }

    /// <summary>A label value with backslash, double quote and newline escaped.</summary>
    public static void AppendLabelValue(StringBuilder sb, string? value)
    {
        foreach (char c in value ?? "")
        {
            switch (c)
            {
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
    }

    /// <summary>HELP text with backslash and newline escaped (OpenMetrics also escapes double quotes).</summary>
    public static string Help(string help, bool openMetrics)
    {
        var sb = new StringBuilder(help.Length);
        foreach (char c in help)
        {
            switch (c)
            {
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '"' when openMetrics:
                    sb.Append("\\\"");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        return sb.ToString();
    }
}
