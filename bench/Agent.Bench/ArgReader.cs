using System.Globalization;

namespace BpfAgent.Bench;

/// <summary>"--name value" options.</summary>
internal sealed class ArgReader(string[] args)
{
    public string[] Args { get; } = args;

    public string? Find(string name)
    {
        for (int i = 0; i < Args.Length - 1; i++)
        {
            if (Args[i] == name)
            {
                return Args[i + 1];
            }
        }

        return null;
    }

    public bool Has(string name) => Args.Contains(name);

    public string String(string name, string fallback) => Find(name) ?? fallback;

    public int Int(string name, int fallback) => Find(name) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public long Long(string name, long fallback) => Find(name) is string s ? long.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) => Find(name) is string s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback;
}
