using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace BpfAgent.Decoding;

/// <summary>
/// One configured decoder of a chain: bytes in, text out. The first decoder of a chain gets the field (its raw
/// bytes, or its value when the field is an integer); each further one gets the previous one's text as UTF-8
/// bytes, as ebpf_exporter's decoders do. Returning null drops the label set (see <see cref="RegexpDecoder"/>).
/// Decoders run only when a value is not cached yet (<see cref="FieldValueDecoder"/> caches their results), so
/// they may allocate.
/// </summary>
public abstract class LabelDecoder
{
    /// <summary>The label text for <paramref name="input"/>, or null to drop the label set.</summary>
    public abstract string? Decode(ReadOnlySpan<byte> input);

    /// <summary>
    /// First in a chain on an integer field: its value as the field's type reads it (sign-extended for signed
    /// types) and its width in bits. By default the decoder sees the value's little-endian bytes of that width.
    /// </summary>
    public virtual string? DecodeInteger(long value, int widthBits)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        int n = (widthBits + 7) / 8;
        return Decode(bytes[..(n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8)]);
    }

    /// <summary>
    /// Called once when the decoder is first in a chain on <paramref name="field"/>: why it cannot decode that
    /// field, or null when it can (a decoder that needs the field's type, as <c>enum</c> does, keeps it here).
    /// </summary>
    public virtual string? Bind(EventField field) => null;

    /// <summary>Whether a result may change later for the same input (a cgroup not created yet): not cached then.</summary>
    public virtual bool IsTransient(string? output) => false;

    /// <summary>Whether a log property decoded by this decoder alone stays a number.</summary>
    public virtual bool IsNumeric => false;

    /// <summary>The log property of an integer field's value when <see cref="IsNumeric"/>.</summary>
    public virtual object? NumericProperty(long value, int widthBits) => null;

    /// <summary>The UTF-8 text of <paramref name="input"/>.</summary>
    protected static string Text(ReadOnlySpan<byte> input) => Encoding.UTF8.GetString(input);

    /// <summary>Reads an unsigned little-endian integer of 1, 2, 4 or 8 bytes.</summary>
    protected static bool TryReadUnsigned(ReadOnlySpan<byte> input, out ulong value)
    {
        switch (input.Length)
        {
            case 1:
                value = input[0];
                return true;
            case 2:
                value = BinaryPrimitives.ReadUInt16LittleEndian(input);
                return true;
            case 4:
                value = BinaryPrimitives.ReadUInt32LittleEndian(input);
                return true;
            case 8:
                value = BinaryPrimitives.ReadUInt64LittleEndian(input);
                return true;
            default:
                value = 0;
                return false;
        }
    }

    protected static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    protected static string Invariant(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The field needs to be an integer (or enum) of at most 8 bytes, or a byte array of 1, 2, 4 or 8 (a map key's
    /// slice, as ebpf_exporter cuts them), read as a little-endian unsigned integer.
    /// </summary>
    protected static string? NeedsInteger(EventField field, string decoder) =>
        field.IsInteger && field.Size <= 8 || IsWord(field) ? null
            : $"decoder '{decoder}' needs an integer or enum, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";

    /// <summary>A byte array of an integer's size.</summary>
    internal static bool IsWord(EventField field) => field.Shape == FieldShape.ByteArray && field.BitSize == 0 && field.Size is 1 or 2 or 4 or 8;
}

/// <summary>
/// A decoder of a number: first in a chain it takes an integer field's value; later it parses the previous
/// decoder's decimal text (as ebpf_exporter's errno, syscall and pci decoders do after <c>uint</c>).
/// </summary>
public abstract class NumberDecoder(string name) : LabelDecoder
{
    protected string Name { get; } = name;

    /// <summary>The label text of <paramref name="value"/> (null drops the label set).</summary>
    protected abstract string? DecodeNumber(long value);

    public sealed override string? DecodeInteger(long value, int widthBits) => DecodeNumber(value);

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        if (long.TryParse(input, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            return DecodeNumber(v);
        }

        // 2^63 and above: a u64 printed by uint.
        return ulong.TryParse(input, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u) ? DecodeNumber(unchecked((long)u)) : $"unparsable:{Text(input)}";
    }

    public override string? Bind(EventField field) => NeedsInteger(field, Name);
}
