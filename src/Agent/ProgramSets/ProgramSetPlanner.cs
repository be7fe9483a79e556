using System.Text.Json;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.PerfEvents;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Checks a <see cref="ProgramSetConfig"/> against its object without loading anything into the kernel and returns the
/// <see cref="ProgramSetPlan"/> the builder loads: programs, parameters, variant, rings (<see cref="RingPlanner"/>), maps
/// read at scrape, cgroup id maps and perf counters. Every mismatch is a <see cref="ConfigError"/>; all of a set's are
/// thrown together in one <see cref="ConfigException"/>.
/// </summary>
public static class ProgramSetPlanner
{
    /// <summary>Opens and checks the set; the caller owns (disposes) the plan. <paramref name="eventLogger"/> gets the rings' log lines.</summary>
    public static ProgramSetPlan Plan(ProgramSetConfig config, Serilog.ILogger eventLogger, string? btfPath = null)
    {
        if (!File.Exists(config.ObjectPath))
        {
            throw new ConfigException(new ConfigError(config.File, "object", $"'{config.ObjectPath}' does not exist",
                "build the object (make bpf) or fix the path; a relative path is taken from the config directory"));
        }

        OpenBpfObject open = OpenBpfObject.OpenFile(config.ObjectPath,
            new BpfObjectOpenOptions { ObjectName = config.Name.Replace('-', '_'), BtfCustomPath = btfPath });
        try
        {
            var errors = new List<ConfigError>();
            CheckPrograms(config, open, errors);
            VariantChoice variant = VariantSelector.Apply(config, open, btfPath, errors);
            SetParameters(config, open, errors);

            StackMapBinding stackMaps = StackMapBinding.For(open);
            var decoders = new DecoderContext(stackMaps: stackMaps);
            var plan = new ProgramSetPlan(config, open, variant, stackMaps);
            foreach (RingConfig ring in config.RingBuffers)
            {
                if (RingPlanner.Plan(config, ring, open, decoders, eventLogger, errors) is { } processor)
                {
                    plan.Rings.Add((ring, processor));
                }
            }

            foreach (MapConfig map in config.Maps)
            {
                if (MapPlan.Check(config, map, open, errors) is MapPlan mapPlan)
                {
                    plan.Maps.Add(mapPlan);
                }
            }

            CgroupIdMapSync.Check(config, open, errors);
            foreach (PerfCounterConfig pc in config.PerfCounters)
            {
                if (PerfEventCounter.Decoders(config, pc, decoders, errors) is { } labels)
                {
                    plan.PerfCounters.Add((pc, labels));
                }
            }

            if (errors.Count > 0)
            {
                throw new ConfigException(errors);
            }

            return plan;
        }
        catch
        {
            open.Dispose();
            throw;
        }
    }

    private static void CheckPrograms(ProgramSetConfig config, OpenBpfObject open, List<ConfigError> errors)
    {
        if (config.Programs is null)
        {
            return;
        }

        var names = open.Programs.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < config.Programs.Count; i++)
        {
            if (!names.Contains(config.Programs[i]))
            {
                errors.Add(new ConfigError(config.File, $"programs[{i}]", $"the object has no program '{config.Programs[i]}'",
                    $"use one of: {string.Join(", ", names.Order(StringComparer.Ordinal))}"));
            }
        }

        // Programs not listed are not loaded at all: nothing unused runs in the kernel.
        foreach (OpenBpfProgram p in open.Programs)
        {
            if (!config.Programs.Contains(p.Name))
            {
                p.AutoLoad = false;
            }
        }
    }

    private static void SetParameters(ProgramSetConfig config, OpenBpfObject open, List<ConfigError> errors)
    {
        foreach (ParameterConfig p in config.Parameters)
        {
            if (!Globals.TryDescribe(open, p.Name, out Globals.Variable v))
            {
                errors.Add(new ConfigError(config.File, p.Key, $"the object has no global variable '{p.Name}'",
                    $"use one of: {string.Join(", ", Globals.Names(open))}"));
                continue;
            }

            if (Globals.Substitute(p.Value, out string? unresolved) is not JsonElement value)
            {
                errors.Add(new ConfigError(config.File, p.Key, unresolved!, "run the agent as root or with CAP_SYSLOG, or check the symbol's name in /proc/kallsyms"));
                continue;
            }

            byte[]? bytes = Globals.Encode(v, value, out string? problem);
            if (bytes is null)
            {
                errors.Add(new ConfigError(config.File, p.Key, problem!, $"give a value that fits '{p.Name}' ({v.Description})"));
                continue;
            }

            open.SetGlobal(p.Name, bytes);
        }
    }
}
