using System.Text;
using Bpf;

namespace BpfAgent.Cli;

/// <summary><c>bpf-agent inspect OBJECT</c>: programs, maps, globals and the structs and enums of an object's BTF.</summary>
public static class InspectCommand
{
    public static int Run(string path, TextWriter output, TextWriter error)
    {
        try
        {
            using OpenBpfObject obj = OpenBpfObject.OpenFile(path);
            output.Write(Describe(obj));
            return 0;
        }
        catch (BpfException e)
        {
            error.WriteLine($"bpf-agent inspect: {e.Message}");
            return 1;
        }
    }

    public static string Describe(OpenBpfObject obj)
    {
        var s = new StringBuilder();
        s.AppendLine($"object {obj.Name} ({obj.Path})");
        s.AppendLine("programs:");
        foreach (OpenBpfProgram p in obj.Programs)
        {
            s.AppendLine($"  {p.Name,-28} {p.Type,-16} {p.Section}{(p.AutoAttach ? "" : "  (no auto-attach)")}");
        }

        s.AppendLine("maps:");
        foreach (OpenBpfMap m in obj.Maps)
        {
            s.AppendLine($"  {m.Name,-28} {m.Type,-16} key {m.KeySize}{Declared(m.KeyType)} value {m.ValueSize}{Declared(m.ValueType)} max_entries {m.MaxEntries}");
        }

        Btf? btf = obj.Btf;
        if (btf is null)
        {
            s.AppendLine("btf: none (compile with clang -g)");
            return s.ToString();
        }

        s.AppendLine("globals:");
        for (uint id = 1; id < btf.TypeCount; id++)
        {
            BtfType t = btf.GetType(id);
            if (t.Kind == BtfKind.Datasec && t.Name != ".maps")
            {
                foreach (BtfVariable v in t.Variables)
                {
                    s.AppendLine($"  {t.Name,-10} {v.Name,-28} offset {v.Offset} size {v.Size}");
                }
            }
        }

        s.AppendLine("types:");
        for (uint id = 1; id < btf.TypeCount; id++)
        {
            BtfType t = btf.GetType(id);
            if (t.Kind is BtfKind.Struct or BtfKind.Union && t.Name.Length > 0)
            {
                s.AppendLine($"  {t.Kind.ToString().ToLowerInvariant()} {t.Name} (size {t.Size})");
                foreach (BtfMember m in t.Members)
                {
                    BtfType mt = t.GetMemberType(m);
                    string bits = m.IsBitfield ? $":{m.BitfieldSize}" : "";
                    s.AppendLine($"    {m.Offset,5}  {TypeName(mt),-24} {m.Name}{bits}");
                }
            }
            else if (t.Kind is BtfKind.Enum or BtfKind.Enum64 && t.Name.Length > 0)
            {
                s.AppendLine($"  enum {t.Name}: {string.Join(", ", t.EnumValues.Select(v => $"{v.Name}={v.Value}"))}");
            }
        }

        return s.ToString();
    }

    private static string TypeName(BtfType t) => t.Kind switch
    {
        BtfKind.Array => $"{TypeName(t.GetElementType())}[{t.Array!.Value.Length}]",
        BtfKind.Pointer => "pointer",
        BtfKind.Struct => $"struct {t.Name}",
        BtfKind.Union => $"union {t.Name}",
        BtfKind.Enum or BtfKind.Enum64 => $"enum {t.Name}",
        BtfKind.Const or BtfKind.Volatile => $"{t.Kind.ToString().ToLowerInvariant()} {TypeName(t.GetReferencedType())}",
        _ => t.Name.Length > 0 ? t.Name : t.Kind.ToString(),
    };

    // The BTF type a map's key or value is declared with: what maps[] labels and values name fields of.
    private static string Declared(BtfType? t) => t is null ? "" : $" ({TypeName(t)})";
}
