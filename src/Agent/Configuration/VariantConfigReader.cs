using System.Text.RegularExpressions;

namespace BpfAgent.Configuration;

/// <summary>Reads a set's <c>variants</c> (see <see cref="VariantConfig"/>).</summary>
internal static partial class VariantConfigReader
{
    public static List<VariantConfig> Read(JsonSection root)
    {
        var variants = new List<VariantConfig>();
        foreach (JsonSection s in root.Objects("variants"))
        {
            string name = s.String("name", required: true, "add \"name\": a short name such as \"task_storage\" (the variant label of bpf_agent_set_variant)") ?? "";
            if (name.Length > 0 && !VariantName().IsMatch(name))
            {
                s.Error("name", $"'{name}' is not a valid variant name", "use lowercase letters, digits and '_' (at most 32), starting with a letter");
            }

            IReadOnlyList<string> programs = s.Strings("programs") ?? [];
            if (programs.Count == 0)
            {
                s.Error("programs", "is required and must list at least one program", "list the programs (C function names) this variant loads");
            }

            var requires = new List<KernelRequirement>();
            IReadOnlyList<string> names = s.Strings("requires") ?? [];
            for (int i = 0; i < names.Count; i++)
            {
                if (KernelRequirement.Parse(names[i]) is KernelRequirement r)
                {
                    requires.Add(r);
                }
                else
                {
                    s.Error($"requires[{i}]", $"'{names[i]}' is not a kernel feature the agent can check",
                        $"use one of: {string.Join(", ", KernelRequirement.KnownNames)}");
                }
            }

            variants.Add(new VariantConfig { Name = name, Key = s.Path, Programs = programs, Maps = s.Strings("maps") ?? [], Requires = requires });
            s.RejectUnknownKeys();
        }

        foreach (IGrouping<string, VariantConfig> dup in variants.GroupBy(v => v.Name).Where(g => g.Count() > 1 && g.Key.Length > 0))
        {
            root.Error(dup.Last().Key, $"variant '{dup.Key}' is defined twice", "give each variant a distinct name");
        }

        return variants;
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,31}$")]
    private static partial Regex VariantName();
}
