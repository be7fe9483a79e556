using System.Text.RegularExpressions;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>regexp</c>: passes its input on unchanged when any of <c>regexps</c> matches somewhere in it (unanchored, as
/// ebpf_exporter's Go regexps match); when none does, the whole label set is dropped: the sample updates no series
/// of that metric, and <c>bpf_agent_metric_filtered_samples_total</c> counts it. .NET's regex syntax, run by its
/// non-backtracking engine (linear time, like Go's RE2; no backreferences or lookarounds).
/// </summary>
public sealed class RegexpDecoder(Regex[] regexps) : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected("regexps");
        if (error is not null)
        {
            return null;
        }

        if (spec.Regexps is not { Count: > 0 } list)
        {
            error = "decoder 'regexp' needs \"regexps\": a list of patterns, of which one must match for the label set to be kept";
            return null;
        }

        var compiled = new List<Regex>();
        foreach (string pattern in list)
        {
            try
            {
                compiled.Add(new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, TimeSpan.FromSeconds(1)));
            }
            catch (ArgumentException e)
            {
                error = $"regexp '{pattern}' does not compile: {e.Message}";
                return null;
            }
            catch (NotSupportedException e)
            {
                error = $"regexp '{pattern}' needs backtracking, which the agent does not run: {e.Message}";
                return null;
            }
        }

        return new RegexpDecoder([.. compiled]);
    }

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        string text = Text(input);
        foreach (Regex r in regexps)
        {
            if (r.IsMatch(text))
            {
                return text;
            }
        }

        return null;
    }
}
