using System.Text;
using BpfAgent.Decoding.Decoders;

namespace BpfAgent.Decoding;

/// <summary>
/// Turns a field of a sample into a label value or a log property through a chain of <see cref="LabelDecoder"/>s
/// (one decoder by default). Results are cached by the field's raw value, so a value seen before costs a lookup and
/// no allocation, and equal labels are the same string instance (label sets are told apart by instance). A null
/// label means a decoder dropped the label set. One instance per label or log placeholder; used from one worker.
/// </summary>
public abstract class FieldValueDecoder
{
    /// <summary>Distinct values kept per decoder; past it values are still decoded, just not cached.</summary>
    /// <remarks>
    /// As large as the highest maxSeries: label sets are told apart by the cached instances, so a value must keep
    /// its instance for as long as series can still be added.
    /// </remarks>
    public const int CacheLimit = 100_000;

    private readonly LabelDecoder[] _chain;
    private readonly Dictionary<string, string> _interned = new(StringComparer.Ordinal);

    private protected FieldValueDecoder(EventField field, LabelDecoder[] chain)
    {
        Field = field;
        _chain = chain;
    }

    public EventField Field { get; }

    /// <summary>The decoders applied in order.</summary>
    public IReadOnlyList<LabelDecoder> Chain => _chain;

    /// <summary>The label value of this field in <paramref name="sample"/>, or null when a decoder drops the label set.</summary>
    public abstract string? Label(ReadOnlySpan<byte> sample);

    /// <summary>The value as a structured log property (numbers stay numbers; null when dropped).</summary>
    public virtual object? Property(ReadOnlySpan<byte> sample) => Label(sample);

    /// <summary>A decoder for <paramref name="field"/> by one decoder's name (no parameters), or null with the reason.</summary>
    public static FieldValueDecoder? Create(EventField field, string decoder, out string? error) =>
        Create(field, [new DecoderSpec(decoder)], DecoderContext.Default, out error);

    /// <summary>
    /// The chain <paramref name="specs"/> (empty: <c>auto</c>) on <paramref name="field"/>, or null with
    /// <paramref name="error"/> saying why it does not fit. <paramref name="bytesAsString"/>: <c>auto</c> reads a
    /// byte array as a string (log placeholders), not as an error.
    /// </summary>
    public static FieldValueDecoder? Create(EventField field, IReadOnlyList<DecoderSpec> specs, DecoderContext? context, out string? error, bool bytesAsString = false)
    {
        context ??= DecoderContext.Default;
        var list = specs.Count == 0 ? [new DecoderSpec("auto")] : specs.ToList();
        if (list[0].Name == "auto")
        {
            string? name = AutoDecoder.Resolve(field, bytesAsString, out error);
            if (name is null)
            {
                return null;
            }

            list[0] = list[0] with { Name = name };
        }

        var chain = new LabelDecoder[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            LabelDecoder? d = DecoderRegistry.Create(list[i], context, out error);
            if (d is null)
            {
                error = list.Count == 1 ? error : $"decoder {i + 1} of {list.Count}: {error}";
                return null;
            }

            if (i > 0 && d is EnumDecoder)
            {
                error = $"decoder 'enum' reads the field's BTF enum type, so it can only be first in a chain";
                return null;
            }

            chain[i] = d;
        }

        // Text decoders first on a char array read its string (as after "string"), not its NUL padding.
        if (field.Shape == FieldShape.CharArray && chain[0] is StaticMapDecoder or RegexpDecoder)
        {
            chain = [new Decoders.StringDecoder(), .. chain];
        }

        error = chain[0].Bind(field);
        if (error is not null)
        {
            return null;
        }

        if (field.IsInteger && field.Size <= 8 || LabelDecoder.IsWord(field) && chain[0] is NumberDecoder or KsymDecoder)
        {
            return new IntegerFieldDecoder(field, chain);
        }

        return chain[0] is Decoders.StringDecoder ? new TextFieldDecoder(field, chain) : new BytesFieldDecoder(field, chain);
    }

    /// <summary>Applies the chain from its second decoder on <paramref name="first"/>: null once a decoder drops.</summary>
    private protected string? DecodeRest(string? first, ref bool transient)
    {
        string? text = first;
        transient |= _chain[0].IsTransient(first);
        for (int i = 1; i < _chain.Length && text is not null; i++)
        {
            text = _chain[i].Decode(Encoding.UTF8.GetBytes(text));
            transient |= _chain[i].IsTransient(text);
        }

        return text;
    }

    /// <summary>One instance per distinct label text (two raw values may decode to one label: -2 and 2 are both ENOENT).</summary>
    private protected string? Intern(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (_interned.TryGetValue(text, out string? s))
        {
            return s;
        }

        if (_interned.Count < CacheLimit)
        {
            _interned[text] = text;
        }

        return text;
    }

    private protected LabelDecoder First => _chain[0];

    private protected bool IsSingle => _chain.Length == 1;
}
