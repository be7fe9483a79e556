using Bpf;
using BpfAgent;
using BpfAgent.Cli;
using BpfAgent.Configuration;
using BpfAgent.Logs;
using Serilog;

// Entry point: parse the command line, then run the daemon or a verb. Wiring lives in AgentHost.
CommandLine cli = CommandLine.Parse(args);
switch (cli.Verb)
{
    case Verb.Help:
        if (cli.Error is not null)
        {
            Console.Error.WriteLine($"bpf-agent: {cli.Error}");
            Console.Error.WriteLine("run `bpf-agent --help` for the verbs and options");
            return ExitCodes.Usage;
        }

        Console.Out.WriteLine(CommandLine.Usage);
        return ExitCodes.Ok;
    case Verb.Version:
        return VersionCommand.Run(Console.Out);
    case Verb.Inspect:
        return InspectCommand.Run(cli.ObjectPath!, Console.Out, Console.Error);
    case Verb.Convert:
        return ConvertCommand.Run(cli.ObjectPath!, Console.Out, Console.Error);
    case Verb.Check:
        return CheckCommand.Run(cli, Console.Out);
    case Verb.Pins:
        return PinsCommand.Run(cli, Console.Out, Console.Error);
}

Log.Logger = new LoggerConfiguration()
    .Enrich.With<JournaldPriorityEnricher>()
    .WriteTo.AgentConsole(LogOutput.Text)
    .CreateBootstrapLogger();

// Resolved at each use: Log.Logger is the bootstrap logger until the host replaces it.
static Serilog.ILogger Startup() => Log.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "bpf-agent");
try
{
    AgentConfiguration config = AgentConfiguration.Load(cli.ConfigDirectory, cli.HostArgs);
    if (config.Options.LogFormat != LogOutput.Text)
    {
        Log.Logger = new LoggerConfiguration()
            .Enrich.With<JournaldPriorityEnricher>()
            .WriteTo.AgentConsole(config.Options.LogFormat)
            .CreateBootstrapLogger();
    }

    if (config.Errors.Count > 0)
    {
        foreach (ConfigError e in config.Errors)
        {
            Startup().Fatal("Configuration error: {Error}", e.ToString());
        }

        return ExitCodes.Config;
    }

    foreach (ConfigError w in config.Warnings)
    {
        Startup().Warning("Configuration warning: {Warning}", w.ToString());
    }

    if (BpfAgent.Security.Capabilities.MissingMessage(BpfAgent.Security.Capabilities.Effective()) is string missing)
    {
        Startup().Fatal("{Problem}", missing);
        return ExitCodes.NoPermission;
    }

    // Before any program is attached: an address in use is one line, not a stack trace after the sets are up.
    if (ListenAddress.TryBind(config.Options.Listen) is string listenProblem)
    {
        Startup().Fatal("{Problem}. Fix: {Fix}", listenProblem, ListenAddress.Fix);
        return ExitCodes.Failure;
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
catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse })
{
    // Taken between the check above and Kestrel's bind.
    Startup().Fatal("{Problem}. Fix: {Fix}", e.Message, ListenAddress.Fix);
    return ExitCodes.Failure;
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
