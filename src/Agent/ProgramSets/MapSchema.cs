using System.Security.Cryptography;
using System.Text;
using Bpf;

namespace BpfAgent.ProgramSets;

/// <summary>
/// A short hash of what a map holds (type, sizes, entries and the BTF layout of its key and value), put in
/// its pin path: libbpf reuses a pin when only type, sizes and flags match, so without it a changed value
/// layout of the same size would silently reuse old, misread state.
/// </summary>
internal static class MapSchema
{
    public static string Hash(OpenBpfObject open, OpenBpfMap map)
    {
        var text = new StringBuilder();
        text.Append(map.Type).Append('|').Append(map.KeySize).Append('|').Append(map.ValueSize).Append('|').Append(map.MaxEntries);
        if (open.Btf is Btf btf && btf.FindType(".maps", BtfKind.Datasec) is BtfType maps)
        {
            BtfVariable? v = maps.Variables.FirstOrDefault(x => x.Name == map.Name);
            if (v is not null)
            {
                BtfType def = btf.GetType(v.TypeId).Resolve();
                foreach (BtfMember m in def.Members)
                {
                    BtfType t = def.GetMemberType(m).Resolve();
                    if (m.Name is "key" or "value" && t.Kind == BtfKind.Pointer)
                    {
                        text.Append('|').Append(m.Name).Append('=');
                        Describe(t.GetReferencedType(), text, 0);
                    }
                }
            }
        }

        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash.AsSpan(0, 4));
    }

    private static void Describe(BtfType type, StringBuilder text, int depth)
    {
        BtfType t = type.Resolve();
        text.Append(t.Kind).Append(':').Append(t.Name).Append(':').Append(t.Size);
        if (depth > 6)
        {
            return;
        }

        if (t.Kind is BtfKind.Struct or BtfKind.Union)
        {
            text.Append('{');
            foreach (BtfMember m in t.Members)
            {
                text.Append(m.Name).Append('@').Append(m.BitOffset).Append('/').Append(m.BitfieldSize).Append('=');
                Describe(t.GetMemberType(m), text, depth + 1);
                text.Append(';');
            }

            text.Append('}');
        }
        else if (t.Kind == BtfKind.Array)
        {
            text.Append('[').Append(t.Array!.Value.Length).Append(']');
            Describe(t.GetElementType(), text, depth + 1);
        }
    }
}
