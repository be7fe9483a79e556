using System.Text;
using System.Text.Json;
using Bpf;

namespace BpfAgent.ProgramSets;

/// <summary>Global variables of an object (its parameters): what they are, and JSON values encoded for them.</summary>
internal static class Globals
{
    public readonly record struct Variable(string Name, int Size, BtfType Type)
    {
        public string Description => Type.Kind == BtfKind.Int
            ? $"{(Type.Int!.Value.IsSigned ? "signed" : "unsigned")} {Size * 8}-bit integer"
            : Type.IsCharArray ? $"char[{Size}] string" : $"{Type.Kind.ToString().ToLowerInvariant()} of {Size} bytes";
    }

    public static IEnumerable<Variable> All(OpenBpfObject open) =>
        open.Btf is Btf btf
            ? open.GlobalVariables.Select(v => new Variable(v.Name, v.Size, btf.GetType(v.TypeId).Resolve()))
            : [];

    public static IEnumerable<string> Names(OpenBpfObject open) =>
        All(open).Select(v => v.Name).Where(n => !n.StartsWith("__", StringComparison.Ordinal));

    public static bool TryDescribe(OpenBpfObject open, string name, out Variable variable)
    {
        foreach (Variable v in All(open))
        {
            if (v.Name == name)
            {
                variable = v;
                return true;
            }
        }

        variable = default;
        return false;
    }

    /// <summary>
    /// The placeholder "$agent_pid" stands for this process's pid (to filter the agent out of its own events);
    /// "$kaddr:SYMBOL" for a kernel symbol's address (ebpf_exporter's kaddrs), or null with the problem.
    /// </summary>
    public static JsonElement? Substitute(JsonElement value, out string? problem)
    {
        problem = null;
        string? text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        if (text == "$agent_pid")
        {
            return JsonSerializer.SerializeToElement(Environment.ProcessId);
        }

        if (text?.StartsWith(Configuration.EbpfExporter.KernelAddressValue.Prefix, StringComparison.Ordinal) == true)
        {
            ulong? address = Configuration.EbpfExporter.KernelAddressValue.Resolve(text[Configuration.EbpfExporter.KernelAddressValue.Prefix.Length..], out problem);
            return address is ulong a ? JsonSerializer.SerializeToElement(a) : null;
        }

        return value;
    }

    /// <summary>The bytes of <paramref name="value"/> for the variable, or null with the problem.</summary>
    public static byte[]? Encode(Variable v, JsonElement value, out string? problem)
    {
        problem = null;
        var bytes = new byte[v.Size];
        if (v.Type.IsCharArray)
        {
            if (value.ValueKind != JsonValueKind.String)
            {
                problem = $"'{v.Name}' is a char[{v.Size}] string; the value must be a JSON string";
                return null;
            }

            byte[] utf8 = Encoding.UTF8.GetBytes(value.GetString()!);
            if (utf8.Length >= v.Size)
            {
                problem = $"'{value.GetString()}' does not fit '{v.Name}' (char[{v.Size}], NUL included)";
                return null;
            }

            utf8.CopyTo(bytes, 0);
            return bytes;
        }

        if (v.Type.Kind is not (BtfKind.Int or BtfKind.Enum) || v.Size is not (1 or 2 or 4 or 8))
        {
            problem = $"'{v.Name}' is a {v.Type.Kind.ToString().ToLowerInvariant()} of {v.Size} bytes; only integers, enums and char arrays can be parameters";
            return null;
        }

        bool signed = v.Type.Kind == BtfKind.Int ? v.Type.Int!.Value.IsSigned : v.Type.IsSignedEnum;
        decimal number;
        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                number = 1;
                break;
            case JsonValueKind.False:
                number = 0;
                break;
            case JsonValueKind.Number when value.TryGetDecimal(out decimal d) && d == decimal.Truncate(d):
                number = d;
                break;
            default:
                problem = $"'{v.Name}' is a {(signed ? "signed" : "unsigned")} {v.Size * 8}-bit integer; {value.GetRawText()} is not a whole number";
                return null;
        }

        decimal min = signed ? -(decimal)Math.Pow(2, (v.Size * 8) - 1) : 0;
        decimal max = signed ? (decimal)Math.Pow(2, (v.Size * 8) - 1) - 1 : (decimal)Math.Pow(2, v.Size * 8) - 1;
        if (number < min || number > max)
        {
            problem = $"{number} is out of range for '{v.Name}' ({min} to {max})";
            return null;
        }

        ulong raw = number < 0 ? (ulong)(long)number : (ulong)number;
        for (int i = 0; i < v.Size; i++)
        {
            bytes[i] = (byte)(raw >> (8 * i));
        }

        if (!BitConverter.IsLittleEndian)
        {
            Array.Reverse(bytes);
        }

        return bytes;
    }
}
