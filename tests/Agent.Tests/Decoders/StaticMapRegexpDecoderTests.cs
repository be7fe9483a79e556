using BpfAgent.Decoding;
using BpfAgent.Metrics;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

public sealed class StaticMapRegexpDecoderTests
{
    private static readonly Dictionary<string, string> s_states = new() { ["1"] = "established", ["7"] = "close" };

    [Fact]
    public void Static_map_names_known_inputs_and_marks_or_passes_unknown_ones()
    {
        Assert.Equal("established", On(U8, new DecoderSpec("uint"), new DecoderSpec("static_map") { StaticMap = s_states }).Label([1]));
        Assert.Equal("unknown:3", On(U8, new DecoderSpec("uint"), new DecoderSpec("static_map") { StaticMap = s_states }).Label([3]));
        Assert.Equal("3", On(U8, new DecoderSpec("uint"), new DecoderSpec("static_map") { StaticMap = s_states, AllowUnknown = true }).Label([3]));

        // First on an integer field it reads the value as decimal; on a char array, the text.
        Assert.Equal("close", On(S32, new DecoderSpec("static_map") { StaticMap = s_states }).Label(Int(7, 4)));
        Assert.Equal("established", On(Chars(4), new DecoderSpec("static_map") { StaticMap = s_states }).Label(Text("1", 4)));
    }

    [Fact]
    public void Map_keeps_bpf_agents_first_form_unknown_values_stay_numbers()
    {
        var d = On(S32, new DecoderSpec("map") { StaticMap = new Dictionary<string, string> { ["-3"] = "minus three" } });
        Assert.Equal("minus three", d.Label(Int(-3, 4)));
        Assert.Equal("9", d.Label(Int(9, 4)));
        Assert.Contains("static_map", DecoderRegistry.Create(new DecoderSpec("static_map"), DecoderContext.Default, out string? e) is null ? e : "", StringComparison.Ordinal);
        Assert.Contains("allow_unknown", new DecoderSpec("map") { StaticMap = s_states, AllowUnknown = true } is var m && DecoderRegistry.Create(m, DecoderContext.Default, out e) is null ? e : "", StringComparison.Ordinal);
    }

    [Fact]
    public void Regexp_passes_a_match_unchanged_and_drops_the_label_set_otherwise()
    {
        var d = On(Chars(16), new DecoderSpec("string"), new DecoderSpec("regexp") { Regexps = ["^sshd$", "^nginx"] });
        Assert.Equal("sshd", d.Label(Text("sshd", 16)));
        Assert.Equal("nginx-worker", d.Label(Text("nginx-worker", 16)));
        Assert.Null(d.Label(Text("bash", 16)));
        Assert.Null(d.Property(Text("bash", 16)));
    }

    [Fact]
    public void A_dropped_label_set_updates_no_series_and_is_counted()
    {
        EventLayout layout = Layout(Chars(16));
        FieldValueDecoder d = FieldValueDecoder.Create(layout.Find("v")!, [new DecoderSpec("regexp") { Regexps = ["^keep"] }], null, out string? error)
            ?? throw new InvalidOperationException(error);
        var labels = new LabelSet([("comm", d)], maxSeries: 10);
        Assert.NotNull(labels.Find(Text("keep-me", 16)));
        Assert.Null(labels.Find(Text("drop-me", 16)));
        Assert.Null(labels.Find(Text("other", 16)));
        Assert.NotNull(labels.Find(Text("keep-me", 16)));
        Assert.Equal(2, labels.FilteredSamples);
        Assert.Equal(1, labels.SeriesCount);
    }

    [Fact]
    public void Regexp_without_patterns_or_with_a_bad_one_is_a_clear_error()
    {
        Assert.Null(DecoderRegistry.Create(new DecoderSpec("regexp"), DecoderContext.Default, out string? e));
        Assert.Contains("\"regexps\"", e, StringComparison.Ordinal);
        Assert.Null(DecoderRegistry.Create(new DecoderSpec("regexp") { Regexps = ["(unclosed"] }, DecoderContext.Default, out e));
        Assert.Contains("(unclosed", e, StringComparison.Ordinal);
        Assert.Null(DecoderRegistry.Create(new DecoderSpec("regexp") { Regexps = [@"(a)\1"] }, DecoderContext.Default, out e));
        Assert.Contains("backtracking", e, StringComparison.Ordinal);
        Assert.Null(DecoderRegistry.Create(new DecoderSpec("uint") { Regexps = ["x"] }, DecoderContext.Default, out e));
        Assert.Contains("takes no \"regexps\"", e, StringComparison.Ordinal);
    }
}
