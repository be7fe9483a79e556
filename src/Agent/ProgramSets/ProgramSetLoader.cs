using BpfAgent.Configuration;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Turns a <see cref="ProgramSetConfig"/> into a running <see cref="LoadedProgramSet"/>: the planner checks it against
/// its object into a plan (<see cref="ProgramSetPlanner"/>; <c>bpf-agent check</c> goes the same way), the builder
/// loads, pins and attaches from that plan (<see cref="ProgramSetBuilder"/>). Throws <see cref="ConfigException"/>
/// for configuration mistakes, <see cref="Bpf.BpfException"/> for kernel refusals.
/// </summary>
public sealed class ProgramSetLoader(AgentOptions options, Serilog.ILogger eventLogger)
{
    private readonly ProgramSetBuilder _builder = new(options, eventLogger);

    /// <summary>Loads, pins and attaches the set; its rings continue the counts of <paramref name="history"/> (a new one if null).</summary>
    public LoadedProgramSet Load(ProgramSetConfig config, SetHistory? history = null)
    {
        using ProgramSetPlan plan = ProgramSetPlanner.Plan(config, eventLogger, options.BtfPath.Length == 0 ? null : options.BtfPath);
        return _builder.Build(plan, history ?? new SetHistory(config.Name));
    }
}
