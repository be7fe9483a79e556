using System.Text.Json;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using Serilog.Events;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Turns a <see cref="ProgramSetConfig"/> into a <see cref="LoadedProgramSet"/>: open the object, check the
/// config against it (maps, structs, fields, parameters: each mismatch a <see cref="ConfigError"/>), set
/// parameters and pin paths, load, attach, and build the ring pipeline pieces. Throws
/// <see cref="ConfigException"/> for configuration mistakes, <see cref="BpfException"/> for kernel refusals.
/// </summary>
public sealed class ProgramSetLoader(AgentOptions options, Serilog.ILogger eventLogger)
{
    /// <summary>Opens and checks the set without loading it (for <c>bpf-agent check</c> and before load).</summary>
    public static OpenBpfObject OpenAndCheck(ProgramSetConfig config, List<ConfigError> errors, out Dictionary<RingConfig, EventLayout> layouts)
        => OpenAndCheck(config, errors, out layouts, out _, out _);

    /// <summary>As above, with the plans of the set's maps (read at scrape) and the variant chosen for this kernel.</summary>
    public static OpenBpfObject OpenAndCheck(ProgramSetConfig config, List<ConfigError> errors, out Dictionary<RingConfig, EventLayout> layouts,
        out List<MapPlan> maps, out VariantChoice variant, string? btfPath = null)
    {
        layouts = [];
        maps = [];
        if (!File.Exists(config.ObjectPath))
        {
            throw new ConfigException(new ConfigError(config.File, "object", $"'{config.ObjectPath}' does not exist",
                "build the object (make bpf) or fix the path; a relative path is taken from the config directory"));
        }

        OpenBpfObject open = OpenBpfObject.OpenFile(config.ObjectPath,
            new BpfObjectOpenOptions { ObjectName = config.Name.Replace('-', '_'), BtfCustomPath = btfPath });
        try
        {
            CheckPrograms(config, open, errors);
            variant = VariantSelector.Apply(config, open, btfPath, errors);
            SetParameters(config, open, errors);
            foreach (RingConfig ring in config.RingBuffers)
            {
                EventLayout? layout = CheckRing(config, ring, open, errors);
                if (layout is not null)
                {
                    layouts[ring] = layout;
                }
            }

            foreach (MapConfig map in config.Maps)
            {
                if (MapPlan.Check(config, map, open, errors) is MapPlan plan)
                {
                    maps.Add(plan);
                }
            }

            CgroupIdMapSync.Check(config, open, errors);

            return open;
        }
        catch
        {
            open.Dispose();
            throw;
        }
    }

    /// <summary>Loads, pins and attaches the set; its rings continue the counts of <paramref name="history"/> (a new one if null).</summary>
    public LoadedProgramSet Load(ProgramSetConfig config, SetHistory? history = null)
    {
        history ??= new SetHistory(config.Name);
        var errors = new List<ConfigError>();
        using OpenBpfObject open = OpenAndCheck(config, errors, out Dictionary<RingConfig, EventLayout> layouts, out List<MapPlan> mapPlans,
            out VariantChoice variant, options.BtfPath.Length == 0 ? null : options.BtfPath);

        // Build decoders before load too: a decoder that does not fit its field is a config error.
        var processors = new Dictionary<RingConfig, SampleProcessor>();
        StackMapBinding stackMaps = StackMapBinding.For(open);
        var decoders = new DecoderContext(stackMaps: stackMaps);
        foreach ((RingConfig ring, EventLayout layout) in layouts)
        {
            SampleProcessor? p = BuildProcessor(config, ring, layout, decoders, errors);
            if (p is not null)
            {
                processors[ring] = p;
            }
        }

        var perfLabels = new List<(PerfCounterConfig, IReadOnlyList<(string, FieldValueDecoder)>)>();
        foreach (PerfCounterConfig pc in config.PerfCounters)
        {
            if (Metrics.PerfEvents.PerfEventCounter.Decoders(config, pc, decoders, errors) is { } labels)
            {
                perfLabels.Add((pc, labels));
            }
        }

        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        string? pinDirectory = null;
        if (config.Pinning.Enabled)
        {
            pinDirectory = Path.Combine(options.PinRoot, config.Name);
            PinDirectory.Prepare(options.PinRoot, pinDirectory);
            foreach (OpenBpfMap map in open.Maps)
            {
                if (!map.Name.Contains('.', StringComparison.Ordinal))
                {
                    map.PinPath = Path.Combine(pinDirectory, $"{map.Name}-{MapSchema.Hash(open, map)}"); // bpffs refuses '.' in names
                }
            }

            PinDirectory.ResolveIncompatible(pinDirectory, open.Maps.Where(m => m.PinPath is not null).Select(m => m.PinPath!),
                config.Pinning.ReplaceIncompatible, eventLogger, config.Name);
        }

        BpfObject obj = open.Load();
        stackMaps.Attach(obj);
        var links = new List<BpfLink>();
        List<CgroupIdMapSync> cgroupIdMaps = [];
        var perfCounters = new List<Metrics.PerfEvents.PerfEventCounter>();
        try
        {
            cgroupIdMaps = CgroupIdMapSync.Start(config, obj); // filled before the programs run
            perfCounters.AddRange(perfLabels.Select(p => Metrics.PerfEvents.PerfEventCounter.Start(p.Item1, p.Item2, obj)));

            // Before attach: a pinned drop counter carries earlier runs' drops, which are not this run's.
            long kernelDropsAtLoad = LoadedProgramSet.FindDropsMap(obj) is BpfMap drops ? KernelDrops.Read(drops) : 0;
            foreach (BpfProgram p in obj.Programs)
            {
                if (p.Fd >= 0 && (config.Programs?.Contains(p.Name) ?? p.AutoAttach))
                {
                    links.Add(p.Attach());
                }
            }

            var rings = config.RingBuffers.Select(r => new RingSource(config.Name, obj.GetMap(r.Map), processors[r],
                history.Ring(r.Map))).ToList();
            var maps = mapPlans.Select(p => p.Build(config.Name, obj)).ToList();
            return new LoadedProgramSet(config, obj, links, rings, pinDirectory, kernelDropsAtLoad) { Maps = maps, Variant = variant, CgroupIdMaps = cgroupIdMaps, PerfCounters = perfCounters };
        }
        catch
        {
            foreach (IDisposable d in cgroupIdMaps.Cast<IDisposable>().Concat(perfCounters))
            {
                d.Dispose();
            }

            foreach (BpfLink l in links)
            {
                l.Dispose();
            }

            obj.Dispose();
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

    private static EventLayout? CheckRing(ProgramSetConfig config, RingConfig ring, OpenBpfObject open, List<ConfigError> errors)
    {
        if (!open.TryGetMap(ring.Map, out OpenBpfMap map))
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.map", $"the object has no map '{ring.Map}'",
                $"use one of its ring buffers: {string.Join(", ", open.Maps.Where(m => m.Type == BpfMapType.RingBuffer).Select(m => m.Name))}"));
            return null;
        }

        if (map.Type != BpfMapType.RingBuffer)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.map", $"map '{ring.Map}' is a {map.Type} map, not a ring buffer",
                "name a BPF_MAP_TYPE_RINGBUF map"));
            return null;
        }

        Btf? btf = open.Btf;
        if (btf is null)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.struct", "the object has no BTF", "compile the object with clang -g"));
            return null;
        }

        EventLayout layout;
        try
        {
            layout = EventLayout.FromBtf(btf, ring.Struct);
        }
        catch (KeyNotFoundException)
        {
            errors.Add(new ConfigError(config.File, $"{ring.Key}.struct", $"no struct '{ring.Struct}' in the object's BTF",
                $"check the name (bpf-agent inspect {config.ObjectPath} lists the structs); if it is right, anchor it in the C source at file scope with BPF_AGENT_EVENT({ring.Struct}); (programs/include/bpf_agent.h), or a global such as struct {ring.Struct} *{ring.Struct}_anchor __attribute__((unused));"));
            return null;
        }

        foreach (MetricConfig m in ring.Metrics)
        {
            if (m.Field is not null)
            {
                EventField? f = FindField(config, layout, m.Field, $"{m.Key}.field", errors);
                if (f is not null && !f.IsInteger)
                {
                    errors.Add(new ConfigError(config.File, $"{m.Key}.field", $"field '{m.Field}' is {DescribeShape(f)}, not a number",
                        "observe an integer field"));
                }
            }

            foreach (LabelConfig l in m.Labels)
            {
                FindField(config, layout, l.Field, $"{l.Key}.field", errors);
            }
        }

        if (ring.Log is LogConfig log)
        {
            foreach (string placeholder in EventLogWriter.Placeholders(EventLogWriter.Parse(log.Message)))
            {
                FindField(config, layout, placeholder, $"{log.Key}.message", errors);
            }
        }

        return layout;
    }

    private static EventField? FindField(ProgramSetConfig config, EventLayout layout, string path, string key, List<ConfigError> errors)
    {
        EventField? f = layout.Find(path);
        if (f is null)
        {
            errors.Add(new ConfigError(config.File, key, $"struct '{layout.StructName}' has no field '{path}'",
                $"use one of: {string.Join(", ", layout.Fields.Select(x => x.Path))}"));
        }

        return f;
    }

    private SampleProcessor? BuildProcessor(ProgramSetConfig config, RingConfig ring, EventLayout layout, DecoderContext decoders, List<ConfigError> errors)
    {
        int before = errors.Count;
        var metrics = new List<MetricUpdater>();
        foreach (MetricConfig m in ring.Metrics)
        {
            var labels = new List<(string, FieldValueDecoder)>();
            foreach (LabelConfig l in m.Labels)
            {
                EventField? f = layout.Find(l.Field);
                FieldValueDecoder? d = f is null ? null : FieldValueDecoder.Create(f, l.Decoders, decoders, out string? problem)
                    ?? Error(errors, config.File, $"{l.Key}.{(l.Decoders.Count > 1 ? "decoders" : "decoder")}", problem!);
                if (d is not null)
                {
                    labels.Add((l.Name, d));
                }
            }

            if (errors.Count == before)
            {
                metrics.Add(MetricUpdater.Create(m, labels, m.Field is null ? null : layout.Find(m.Field)));
            }
        }

        EventLogWriter? log = null;
        if (ring.Log is LogConfig lc)
        {
            var fields = new List<(string, FieldValueDecoder)>();
            Serilog.Events.MessageTemplate template = EventLogWriter.Parse(lc.Message);
            foreach (string placeholder in EventLogWriter.Placeholders(template))
            {
                EventField? f = layout.Find(placeholder);
                IReadOnlyList<DecoderSpec> chain = lc.Decoders.GetValueOrDefault(placeholder) ?? [];
                FieldValueDecoder? d = f is null ? null : FieldValueDecoder.Create(f, chain, decoders, out string? problem, bytesAsString: true)
                    ?? Error(errors, config.File, $"{lc.Key}.decoders.{placeholder}", problem!);
                if (d is not null)
                {
                    fields.Add((placeholder, d));
                }
            }

            log = new EventLogWriter(eventLogger, lc.Level, template, fields, lc.RatePerSecond, config.Name, ring.Map);
        }

        return errors.Count == before ? new SampleProcessor(layout, metrics, log) : null;
    }

    private static FieldValueDecoder? Error(List<ConfigError> errors, string file, string key, string problem)
    {
        errors.Add(new ConfigError(file, key, problem, "choose a decoder that fits the field's type (see docs/configuration.md)"));
        return null;
    }

    /// <summary>A field's type in the words of its C declaration, not the agent's internal names.</summary>
    internal static string DescribeShape(EventField f) => f.Shape switch
    {
        FieldShape.CharArray => $"a char array (char[{f.Size}], a string)",
        FieldShape.ByteArray => $"a byte array ({f.Size} bytes)",
        FieldShape.Enum => $"an enum of {f.Size} bytes",
        FieldShape.Signed => $"a signed integer of {f.Size} bytes",
        FieldShape.Unsigned => $"an unsigned integer of {f.Size} bytes",
        _ => $"a struct, union or other non-integer type of {f.Size} bytes",
    };
}
