namespace Bpf;

/// <summary>
/// One BTF type, read when first asked for. Referenced types (member types, array elements, typedef
/// targets) are looked up through the owning <see cref="Bpf.Btf"/> when asked for.
/// </summary>
public sealed unsafe class BtfType
{
    private readonly Btf _btf;
    private readonly uint _sizeOrType;

    internal BtfType(Btf btf, uint id, Interop.Libbpf.BtfType* raw)
    {
        _btf = btf;
        Id = id;
        uint info = raw->Info;
        Kind = id == 0 ? BtfKind.Unknown : (BtfKind)((info >> 24) & 0x1f);
        int vlen = (int)(info & 0xffff);
        bool kflag = (info >> 31) != 0;
        _sizeOrType = raw->SizeOrType;
        Name = id == 0 ? "void" : btf.Name(raw->NameOffset);
        uint* extra = (uint*)(raw + 1);

        switch (Kind)
        {
            case BtfKind.Int:
                uint enc = extra[0];
                uint encoding = (enc >> 24) & 0x0f;
                Int = new BtfIntEncoding((int)(enc & 0xff), (encoding & 1) != 0, (encoding & 2) != 0, (encoding & 4) != 0);
                break;
            case BtfKind.Struct or BtfKind.Union:
                var members = new BtfMember[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint* m = extra + (i * 3);
                    uint offset = m[2];
                    members[i] = kflag
                        ? new BtfMember(btf.Name(m[0]), m[1], (int)(offset & 0xffffff), (int)(offset >> 24))
                        : new BtfMember(btf.Name(m[0]), m[1], (int)offset, 0);
                }

                Members = members;
                break;
            case BtfKind.Enum:
                var values = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint* e = extra + (i * 2);
                    long v = kflag ? (int)e[1] : e[1];
                    values[i] = new BtfEnumValue(btf.Name(e[0]), v);
                }

                EnumValues = values;
                IsSignedEnum = kflag;
                break;
            case BtfKind.Enum64:
                var values64 = new BtfEnumValue[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint* e = extra + (i * 3);
                    values64[i] = new BtfEnumValue(btf.Name(e[0]), (long)(((ulong)e[2] << 32) | e[1]));
                }

                EnumValues = values64;
                IsSignedEnum = kflag;
                break;
            case BtfKind.Array:
                Array = new BtfArray(extra[0], extra[1], (int)extra[2]);
                break;
            case BtfKind.Datasec:
                var vars = new BtfVariable[vlen];
                for (int i = 0; i < vlen; i++)
                {
                    uint* v = extra + (i * 3);
                    BtfType variable = btf.GetType(v[0]);
                    vars[i] = new BtfVariable(variable.Name, variable.ReferencedTypeId, (int)v[1], (int)v[2]);
                }

                Variables = vars;
                break;
        }
    }

    public uint Id { get; }

    public BtfKind Kind { get; }

    /// <summary>The type's name; "" for anonymous types.</summary>
    public string Name { get; }

    /// <summary>Struct and union members in declaration order; empty for other kinds.</summary>
    public IReadOnlyList<BtfMember> Members { get; } = [];

    /// <summary>Enum values; empty for other kinds.</summary>
    public IReadOnlyList<BtfEnumValue> EnumValues { get; } = [];

    public bool IsSignedEnum { get; }

    /// <summary>Data section variables; empty for other kinds.</summary>
    public IReadOnlyList<BtfVariable> Variables { get; } = [];

    /// <summary>Integer encoding, for <see cref="BtfKind.Int"/>.</summary>
    public BtfIntEncoding? Int { get; }

    /// <summary>Array shape, for <see cref="BtfKind.Array"/>.</summary>
    public BtfArray? Array { get; }

    /// <summary>
    /// The referenced type id of pointers, typedefs, qualifiers, variables and functions; 0 for others.
    /// </summary>
    public uint ReferencedTypeId => Kind is BtfKind.Pointer or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const
        or BtfKind.Restrict or BtfKind.TypeTag or BtfKind.Variable or BtfKind.Function or BtfKind.DeclTag
        ? _sizeOrType
        : 0;

    /// <summary>Size in bytes, following typedefs and qualifiers; arrays are element size times length.</summary>
    public int Size => Resolve() switch
    {
        { Kind: BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Float or BtfKind.Datasec } t => (int)t._sizeOrType,
        { Kind: BtfKind.Pointer } => IntPtr.Size,
        { Kind: BtfKind.Array } t => _btf.GetType(t.Array!.Value.ElementTypeId).Size * t.Array.Value.Length,
        _ => 0,
    };

    /// <summary>This type with typedefs and const/volatile/restrict/type-tag qualifiers stripped.</summary>
    public BtfType Resolve()
    {
        BtfType t = this;
        for (int depth = 0; depth < 32 && t.Kind is BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile
                 or BtfKind.Restrict or BtfKind.TypeTag; depth++)
        {
            t = _btf.GetType(t._sizeOrType);
        }

        return t;
    }

    /// <summary>The type a member, element or reference points at.</summary>
    public BtfType GetReferencedType() => _btf.GetType(ReferencedTypeId);

    /// <summary>The element type of an array.</summary>
    public BtfType GetElementType() =>
        _btf.GetType((Array ?? throw new InvalidOperationException($"BTF type '{Name}' is a {Kind}, not an array.")).ElementTypeId);

    /// <summary>The resolved type of one member of this struct.</summary>
    public BtfType GetMemberType(BtfMember member) => _btf.GetType(member.TypeId);

    /// <summary>The member named <paramref name="name"/>, or null.</summary>
    public BtfMember? FindMember(string name)
    {
        foreach (BtfMember m in Members)
        {
            if (m.Name == name)
            {
                return m;
            }
        }

        return null;
    }

    /// <summary>Name of an enum value, or null when no enumerator has it.</summary>
    public string? GetEnumName(long value)
    {
        foreach (BtfEnumValue v in EnumValues)
        {
            if (v.Value == value)
            {
                return v.Name;
            }
        }

        return null;
    }

    /// <summary>True for an array of 1-byte char integers (a C string buffer).</summary>
    public bool IsCharArray
    {
        get
        {
            BtfType r = Resolve();
            if (r.Kind != BtfKind.Array)
            {
                return false;
            }

            BtfType e = r.GetElementType().Resolve();
            return e.Kind == BtfKind.Int && e.Int!.Value.Bits == 8;
        }
    }

    public override string ToString() => $"{Kind} '{Name}' (id {Id})";
}
