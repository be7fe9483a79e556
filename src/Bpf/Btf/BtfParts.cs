namespace Bpf;

/// <summary>A struct or union member: name, type, and where it sits.</summary>
/// <param name="Name">Member name ("" for an anonymous struct or union member).</param>
/// <param name="TypeId">BTF id of the member's type (not resolved).</param>
/// <param name="BitOffset">Offset from the start of the struct, in bits.</param>
/// <param name="BitfieldSize">Bits of a bitfield member, 0 for an ordinary one.</param>
public sealed record BtfMember(string Name, uint TypeId, int BitOffset, int BitfieldSize)
{
    /// <summary>Byte offset of the member (bitfields: the byte that holds its first bit).</summary>
    public int Offset => BitOffset / 8;

    public bool IsBitfield => BitfieldSize != 0;
}

/// <summary>One named value of an enum.</summary>
public sealed record BtfEnumValue(string Name, long Value);

/// <summary>A global variable in a data section: name, offset in the section, size.</summary>
public sealed record BtfVariable(string Name, uint TypeId, int Offset, int Size);

/// <summary>Encoding of a BTF integer.</summary>
public readonly record struct BtfIntEncoding(int Bits, bool IsSigned, bool IsChar, bool IsBool);

/// <summary>An array's element type and length.</summary>
public readonly record struct BtfArray(uint ElementTypeId, uint IndexTypeId, int Length);
