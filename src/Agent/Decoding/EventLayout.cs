using Bpf;

namespace BpfAgent.Decoding;

/// <summary>
/// The layout of one event struct, read from the object's BTF: fields by name (dotted for nested structs),
/// so samples are decoded without hand-written offsets.
/// </summary>
public sealed class EventLayout
{
    private readonly Dictionary<string, EventField> _fields;

    private EventLayout(string structName, int size, Dictionary<string, EventField> fields)
    {
        StructName = structName;
        Size = size;
        _fields = fields;
    }

    public string StructName { get; }

    /// <summary>sizeof the struct: a shorter sample is a decode error.</summary>
    public int Size { get; }

    public IReadOnlyCollection<EventField> Fields => _fields.Values;

    /// <summary>Reads the layout; throws <see cref="KeyNotFoundException"/> (with the anchoring hint) if the struct is missing.</summary>
    public static EventLayout FromBtf(Btf btf, string structName)
    {
        BtfType type = btf.GetStruct(structName);
        var fields = new Dictionary<string, EventField>(StringComparer.Ordinal);
        Collect(type, "", 0, fields, depth: 0);
        return new EventLayout(structName, type.Size, fields);
    }

    /// <summary>
    /// The layout of a map's key or value type: a struct's fields by name, or for a scalar (an integer or enum, through
    /// typedefs) one field named <paramref name="scalarName"/>. Null for any other type.
    /// </summary>
    public static EventLayout? FromType(BtfType type, string scalarName)
    {
        BtfType t = type.Resolve();
        var fields = new Dictionary<string, EventField>(StringComparer.Ordinal);
        if (t.Kind is BtfKind.Struct or BtfKind.Union)
        {
            Collect(t, "", 0, fields, depth: 0);
            return new EventLayout(t.Name.Length > 0 ? t.Name : type.Name, t.Size, fields);
        }

        FieldShape shape = ShapeOf(t);
        if (shape is FieldShape.Other)
        {
            return null;
        }

        fields[scalarName] = new EventField(scalarName, 0, 0, t.Size, shape, t.Kind is BtfKind.Enum or BtfKind.Enum64 ? t : null);
        return new EventLayout(type.Name, t.Size, fields);
    }

    /// <summary>
    /// A layout from a field list instead of BTF (decoders and labels tested without an object, or a layout known
    /// another way). Throws when a field lies outside <paramref name="size"/> or a path repeats.
    /// </summary>
    public static EventLayout FromFields(string structName, int size, IEnumerable<EventField> fields)
    {
        var byPath = new Dictionary<string, EventField>(StringComparer.Ordinal);
        foreach (EventField f in fields)
        {
            if (f.Offset < 0 || f.Size <= 0 || f.Offset + f.Size > size)
            {
                throw new ArgumentException($"field '{f.Path}' ({f.Offset}+{f.Size}) lies outside the {size}-byte struct", nameof(fields));
            }

            if (!byPath.TryAdd(f.Path, f))
            {
                throw new ArgumentException($"field '{f.Path}' appears twice", nameof(fields));
            }
        }

        return new EventLayout(structName, size, byPath);
    }

    public EventField? Find(string path) => _fields.GetValueOrDefault(path);

    private static void Collect(BtfType type, string prefix, int baseBits, Dictionary<string, EventField> fields, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        foreach (BtfMember m in type.Members)
        {
            BtfType mt = type.GetMemberType(m).Resolve();
            int bits = baseBits + m.BitOffset;
            if (m.Name.Length == 0 && mt.Kind is BtfKind.Struct or BtfKind.Union)
            {
                Collect(mt, prefix, bits, fields, depth + 1); // anonymous struct/union: its members are the parent's
                continue;
            }

            string path = prefix + m.Name;
            fields[path] = new EventField(path, bits, m.BitfieldSize, mt.Size, ShapeOf(mt), mt.Kind is BtfKind.Enum or BtfKind.Enum64 ? mt : null);
            if (mt.Kind is BtfKind.Struct or BtfKind.Union)
            {
                Collect(mt, path + ".", bits, fields, depth + 1);
            }
        }
    }

    private static FieldShape ShapeOf(BtfType t) => t.Kind switch
    {
        BtfKind.Int => t.Int!.Value.IsSigned ? FieldShape.Signed : FieldShape.Unsigned,
        BtfKind.Enum or BtfKind.Enum64 => FieldShape.Enum,
        BtfKind.Pointer => FieldShape.Unsigned,
        BtfKind.Array when t.IsCharArray && IsPlainChar(t.GetElementType().Resolve()) => FieldShape.CharArray,
        BtfKind.Array when t.IsCharArray => FieldShape.ByteArray,
        _ => FieldShape.Other,
    };

    // clang describes `char` as a 1-byte int named "char" (encoding SIGNED, sometimes CHAR); __u8 is "unsigned char".
    private static bool IsPlainChar(BtfType element) => element.Int!.Value.IsChar || element.Name == "char";
}
