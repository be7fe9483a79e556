using System.Globalization;
using System.Text;

namespace BpfAgent.Metrics.Exposition;

/// <summary>
/// A double as Go's <c>strconv.FormatFloat(v, 'g', -1, 64)</c> writes it, which is how Go's Prometheus client writes
/// le bounds: the shortest digits that round-trip, in exponent form when the exponent is below -4 or at least 6
/// (<c>1e-06</c>, <c>524288</c>, <c>1.048576e+06</c>). ebpf_exporter's histograms are exposed so; sets from its
/// configs keep that text so queries and dashboards that name an le still match.
/// </summary>
public static class GoFloat
{
    public static string Format(double v)
    {
        if (double.IsNaN(v))
        {
            return "NaN";
        }

        if (double.IsInfinity(v))
        {
            return v > 0 ? "+Inf" : "-Inf";
        }

        if (v == 0)
        {
            return BitConverter.DoubleToInt64Bits(v) < 0 ? "-0" : "0";
        }

        (string digits, int point) = Shortest(Math.Abs(v));
        var sb = new StringBuilder(v < 0 ? "-" : "");
        int exp = point - 1;
        if (exp < -4 || exp >= 6)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
            {
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            }

            sb.Append('e').Append(exp < 0 ? '-' : '+').Append(Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        if (point <= 0)
        {
            return sb.Append("0.").Append('0', -point).Append(digits).ToString();
        }

        if (point >= digits.Length)
        {
            return sb.Append(digits).Append('0', point - digits.Length).ToString();
        }

        return sb.Append(digits, 0, point).Append('.').Append(digits, point, digits.Length - point).ToString();
    }

    // The shortest round-trip digits (no leading or trailing zeros) and where the decimal point goes among them.
    private static (string Digits, int Point) Shortest(double v)
    {
        string r = v.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E', StringComparison.Ordinal);
        string mantissa = e < 0 ? r : r[..e];
        int exponent = e < 0 ? 0 : int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string intPart = dot < 0 ? mantissa : mantissa[..dot];
        string frac = dot < 0 ? "" : mantissa[(dot + 1)..];
        string all = intPart + frac;
        int point = intPart.Length + exponent;
        int lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0')
        {
            lead++;
        }

        all = all[lead..].TrimEnd('0');
        return (all.Length == 0 ? "0" : all, point - lead);
    }
}
