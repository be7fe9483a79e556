using Bpf;
using BpfAgent;
using BpfAgent.Cli;
using BpfAgent.Configuration;
using Serilog;

// Entry point: parse the command line, then run the daemon, `check` or `inspect`. Wiring lives in AgentHost.
CommandLine cli = CommandLine.Parse(args);
if (cli.Verb == Verb.Help)
{
    if (cli.Error is not null)
    {
        Console.Error.WriteLine($"bpf-agent: {cli.Error}");
    }

    (cli.Error is null ? Console.Out : Console.Error).WriteLine(CommandLine.Usage);
    return cli.Error is null ? ExitCodes.Ok : ExitCodes.Usage;
}

if (cli.Verb == Verb.Inspect)
{
    return InspectCommand.Run(cli.ObjectPath!, Console.Out, Console.Error);
}

if (cli.Verb == Verb.Check)
{
    return CheckCommand.Run(cli, Console.Out);
}

Log.Logger = new LoggerConfiguration()
    .Enrich.With<BpfAgent.Logs.JournaldPriorityEnricher>()
    .WriteTo.Console(outputTemplate: AgentHost.ConsoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)
    .CreateBootstrapLogger();

// Resolved at each use: Log.Logger is the bootstrap logger until the host replaces it.
static Serilog.ILogger Startup() => Log.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "bpf-agent");
try
{
    AgentConfiguration config = AgentConfiguration.Load(cli.ConfigDirectory, cli.HostArgs);
    if (config.Errors.Count > 0)
    {
        foreach (ConfigError e in config.Errors)
        {
            Startup().Fatal("Configuration error: {Error}", e.ToString());
        }

        return ExitCodes.Config;
    }

    if (BpfAgent.Security.Capabilities.MissingMessage(BpfAgent.Security.Capabilities.Effective()) is string missing)
    {
        Startup().Fatal("{Problem}", missing);
        return ExitCodes.NoPermission;
    }

    Libbpf.EnsureSupported();
    await using Microsoft.AspNetCore.Builder.WebApplication app = AgentHost.Build(config, cli.HostArgs);
    await app.RunAsync();
    return ExitCodes.Ok;
}
catch (ConfigException e)
{
    foreach (ConfigError error in e.Errors)
    {
        Startup().Fatal("Configuration error: {Error}", error.ToString());
    }

    return ExitCodes.Config;
}
catch (Exception e)
{
    Startup().Fatal(e, "bpf-agent failed: {Message}", e.Message);
    return ExitCodes.Failure;
}
finally
{
    await Log.CloseAndFlushAsync();
}
