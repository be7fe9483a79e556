using System.Text;

namespace BpfAgent.Metrics.Exposition;

/// <summary>
/// Writes histogram families as real Prometheus histograms: cumulative name_bucket{le} ending in +Inf, then
/// name_sum and name_count (and name_created in OpenMetrics, as OpenTelemetry's exporter writes for its counters).
/// </summary>
public static class HistogramFamilyWriter
{
    // name + suffix + {labels} (the label text ends in a comma, dropped here) + ' ', without a string per series.
    private static StringBuilder Sample(StringBuilder sb, string name, string suffix, StringBuilder labels)
    {
        sb.Append(name).Append(suffix);
        if (labels.Length > 0)
        {
            sb.Append('{').Append(labels, 0, labels.Length - 1).Append('}');
        }

        return sb.Append(' ');
    }

    public static void Write(StringBuilder sb, IHistogramFamily family, bool openMetrics)
    {
        IReadOnlyList<double> bounds = family.Bounds;
        string[] le = [.. family.BoundTexts ?? bounds.Select(PrometheusText.Number), "+Inf"];
        if (openMetrics)
        {
            sb.Append("# TYPE ").Append(family.Name).Append(" histogram\n");
            if (MetricUnits.Unit(family.Name) is string unit)
            {
                sb.Append("# UNIT ").Append(family.Name).Append(' ').Append(unit).Append('\n');
            }

            if (family.Help.Length > 0)
            {
                sb.Append("# HELP ").Append(family.Name).Append(' ').Append(PrometheusText.Help(family.Help, true)).Append('\n');
            }
        }
        else
        {
            if (family.Help.Length > 0)
            {
                sb.Append("# HELP ").Append(family.Name).Append(' ').Append(PrometheusText.Help(family.Help, false)).Append('\n');
            }

            sb.Append("# TYPE ").Append(family.Name).Append(" histogram\n");
        }

        IReadOnlyList<string> names = family.LabelNames;
        var labels = new StringBuilder();
        family.Collect(new HistogramPoint(bounds.Count + 1), p =>
        {
            labels.Clear();
            for (int i = 0; i < names.Count; i++)
            {
                labels.Append(names[i]).Append("=\"");
                PrometheusText.AppendLabelValue(labels, i < p.LabelValues.Count ? p.LabelValues[i] : null);
                labels.Append("\",");
            }

            long cumulative = 0;
            for (int b = 0; b < p.Counts.Length; b++)
            {
                cumulative += p.Counts[b];
                sb.Append(family.Name).Append("_bucket{").Append(labels).Append("le=\"").Append(le[b]).Append("\"} ")
                    .Append(cumulative).Append('\n');
            }

            PrometheusText.AppendNumber(Sample(sb, family.Name, "_sum", labels), p.Sum).Append('\n');
            Sample(sb, family.Name, "_count", labels).Append(cumulative).Append('\n');
            if (openMetrics && !double.IsNaN(p.Created))
            {
                PrometheusText.AppendNumber(Sample(sb, family.Name, "_created", labels), p.Created).Append('\n');
            }
        });
    }
}
