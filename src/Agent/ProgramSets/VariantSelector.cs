using Bpf;
using BpfAgent.Configuration;

namespace BpfAgent.ProgramSets;

/// <summary>The variant a set runs as, and why the ones listed before it were passed over.</summary>
public sealed record VariantChoice(string Name, IReadOnlyList<string> PassedOver)
{
    /// <summary>The variant of a set that declares none.</summary>
    public const string Default = "default";

    public override string ToString() => PassedOver.Count == 0 ? Name : $"{Name} (not {string.Join("; not ", PassedOver)})";
}

/// <summary>
/// Chooses a set's variant by what the running kernel has (<see cref="VariantConfig"/>) and turns the others off in
/// the opened object: their programs are not loaded, their maps not created. Then checks that every map still to be
/// created is of a type the kernel has, so a set that cannot load says what is missing rather than "Invalid argument".
/// </summary>
public static class VariantSelector
{
    /// <summary>Applies the choice to <paramref name="open"/>; config mistakes go to <paramref name="errors"/>.</summary>
    /// <exception cref="KernelFeatureException">No variant fits this kernel, or a map needs a type it lacks.</exception>
    public static VariantChoice Apply(ProgramSetConfig config, OpenBpfObject open, string? btfPath, List<ConfigError> errors)
    {
        VariantChoice choice = Choose(config, open, btfPath, errors);
        CheckMapTypes(config, open, choice);
        return choice;
    }

    private static VariantChoice Choose(ProgramSetConfig config, OpenBpfObject open, string? btfPath, List<ConfigError> errors)
    {
        if (config.Variants.Count == 0)
        {
            return new VariantChoice(VariantChoice.Default, []);
        }

        if (!CheckNames(config, open, errors))
        {
            return new VariantChoice(VariantChoice.Default, []);
        }

        var passedOver = new List<string>();
        VariantConfig? chosen = null;
        foreach (VariantConfig v in config.Variants)
        {
            List<string> missing = v.Requires.Where(r => !KernelProbe.Has(r, btfPath)).Select(r => r.Words).ToList();
            if (missing.Count == 0)
            {
                chosen = v;
                break;
            }

            passedOver.Add($"{v.Name}: the kernel lacks {string.Join(" and ", missing)}");
        }

        if (chosen is null)
        {
            throw new KernelFeatureException(
                $"program set '{config.Name}' cannot run on this kernel ({KernelRelease()}): " +
                $"{string.Join("; ", passedOver)}");
        }

        foreach (VariantConfig other in config.Variants.Where(v => v != chosen))
        {
            foreach (string p in other.Programs.Except(chosen.Programs))
            {
                open.GetProgram(p).AutoLoad = false;
            }

            foreach (string m in other.Maps.Except(chosen.Maps))
            {
                open.GetMap(m).AutoCreate = false;
            }
        }

        return new VariantChoice(chosen.Name, passedOver);
    }

    private static bool CheckNames(ProgramSetConfig config, OpenBpfObject open, List<ConfigError> errors)
    {
        int before = errors.Count;
        var programs = open.Programs.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var maps = open.Maps.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        foreach (VariantConfig v in config.Variants)
        {
            for (int i = 0; i < v.Programs.Count; i++)
            {
                if (!programs.Contains(v.Programs[i]))
                {
                    errors.Add(new ConfigError(config.File, $"{v.Key}.programs[{i}]", $"the object has no program '{v.Programs[i]}'",
                        $"use one of: {string.Join(", ", programs.Order(StringComparer.Ordinal))}"));
                }
            }

            for (int i = 0; i < v.Maps.Count; i++)
            {
                if (!maps.Contains(v.Maps[i]))
                {
                    errors.Add(new ConfigError(config.File, $"{v.Key}.maps[{i}]", $"the object has no map '{v.Maps[i]}'",
                        $"use one of: {string.Join(", ", maps.Order(StringComparer.Ordinal))}"));
                }
            }
        }

        return errors.Count == before;
    }

    private static void CheckMapTypes(ProgramSetConfig config, OpenBpfObject open, VariantChoice choice)
    {
        var lacking = new List<string>();
        foreach (OpenBpfMap m in open.Maps)
        {
            if (m.AutoCreate && KernelProbe.MissingMapType(m.Type) is string words)
            {
                lacking.Add($"map '{m.Name}' needs {words}");
            }
        }

        if (lacking.Count > 0)
        {
            string variant = choice.Name == VariantChoice.Default ? "" : $" (variant {choice.Name})";
            throw new KernelFeatureException(
                $"program set '{config.Name}'{variant} cannot run on this kernel ({KernelRelease()}): {string.Join("; ", lacking)}, which it lacks");
        }
    }

    private static string KernelRelease()
    {
        try
        {
            return "Linux " + File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "Linux " + Environment.OSVersion.Version;
        }
    }
}
