using System.Text.RegularExpressions;
using BpfAgent.Cli;
using BpfAgent.Configuration;

namespace BpfAgent.Tests;

/// <summary>
/// The command line is strict (anything unknown is status 64, never ignored), and `--help` lists exactly what the
/// parser takes: every verb and option in the usage text parses, and every one the parser knows is in it.
/// </summary>
public sealed partial class CommandLineTests
{
    [Theory]
    [InlineData("--frobnicate")]
    [InlineData("-v")]
    [InlineData("check --frobnicate")]
    [InlineData("check DIR extra")]
    [InlineData("run extra")]
    [InlineData("frobnicate")]
    [InlineData("inspect")]
    [InlineData("inspect a.bpf.o b.bpf.o")]
    [InlineData("inspect a.bpf.o --config-dir x")]
    [InlineData("version extra")]
    [InlineData("pins frob")]
    [InlineData("pins remove")]
    [InlineData("pins remove exec --all")]
    [InlineData("pins list --all")]
    [InlineData("check --all")]
    [InlineData("--config-dir")]
    [InlineData("--Kestrel:Endpoints=x")]
    [InlineData("--Agent:Listen")]
    [InlineData("inspect a.bpf.o --Agent:Listen=x")]
    public void Unknown_options_and_extra_arguments_are_errors(string line)
    {
        CommandLine cli = CommandLine.Parse(line.Split(' '));
        Assert.Equal(Verb.Help, cli.Verb);
        Assert.False(string.IsNullOrEmpty(cli.Error), $"'{line}' was accepted");
    }

    [Theory]
    [InlineData("", Verb.Run)]
    [InlineData("run --config-dir /x --Agent:Listen=http://127.0.0.1:1", Verb.Run)]
    [InlineData("--Agent:Listen http://127.0.0.1:1", Verb.Run)]
    [InlineData("check -c /x --Serilog:MinimumLevel:Default=Debug", Verb.Check)]
    [InlineData("inspect a.bpf.o", Verb.Inspect)]
    [InlineData("version", Verb.Version)]
    [InlineData("--version", Verb.Version)]
    [InlineData("pins", Verb.Pins)]
    [InlineData("pins list", Verb.Pins)]
    [InlineData("pins remove exec", Verb.Pins)]
    [InlineData("pins remove --all --config-dir=/x", Verb.Pins)]
    [InlineData("check --help", Verb.Help)]
    public void Valid_lines_parse(string line, Verb verb)
    {
        CommandLine cli = CommandLine.Parse(line.Length == 0 ? [] : line.Split(' '));
        Assert.True(cli.Error is null, cli.Error);
        Assert.Equal(verb, cli.Verb);
    }

    [Fact]
    public void Overrides_go_to_the_host_and_pins_remove_names_its_set()
    {
        CommandLine cli = CommandLine.Parse(["--Agent:Listen", "http://127.0.0.1:1", "--Agent:PinRoot=/sys/fs/bpf/x"]);
        Assert.Equal(["--Agent:Listen", "http://127.0.0.1:1", "--Agent:PinRoot=/sys/fs/bpf/x"], cli.HostArgs);

        cli = CommandLine.Parse(["pins", "remove", "exec"]);
        Assert.Equal(("remove", "exec", false), (cli.PinsAction, cli.PinsSet, cli.PinsAll));
        cli = CommandLine.Parse(["pins", "remove", "--all"]);
        Assert.Equal(("remove", (string?)null, true), (cli.PinsAction, cli.PinsSet, cli.PinsAll));
    }

    [Fact]
    public void A_near_miss_gets_a_suggestion()
    {
        Assert.Contains("did you mean 'check'", CommandLine.Parse(["chek"]).Error, StringComparison.Ordinal);
        Assert.Contains("did you mean '--config-dir'", CommandLine.Parse(["check", "--confg-dir", "x"]).Error, StringComparison.Ordinal);
        Assert.Contains("did you mean 'list'", CommandLine.Parse(["pins", "lsit"]).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_verb_and_option_the_parser_takes_and_nothing_else()
    {
        string usage = CommandLine.Usage;
        foreach (VerbSpec v in CommandLine.Verbs)
        {
            Assert.Matches(new Regex($"(?m)^  {Regex.Escape(v.Name)}( |$)"), usage);
        }

        foreach (OptionSpec o in CommandLine.Options)
        {
            Assert.Contains(o.Name, usage, StringComparison.Ordinal);
            if (o.Alias is not null)
            {
                Assert.Contains(o.Alias + ", ", usage, StringComparison.Ordinal);
            }
        }

        // Each verb line of the usage, with its arguments filled in, parses; so does each option with each verb it
        // is listed for, and it is refused by every other verb.
        foreach (Match line in VerbLine().Matches(usage))
        {
            string verb = line.Groups[1].Value;
            string[] args = verb switch
            {
                "inspect" => ["inspect", "a.bpf.o"],
                "convert" => ["convert", "a.yaml"],
                _ => [verb],
            };
            Assert.True(CommandLine.Parse(args).Error is null, $"usage verb '{verb}' does not parse: {CommandLine.Parse(args).Error}");
            Assert.Contains(CommandLine.Verbs, v => v.Name == verb);
        }

        foreach (Match m in OptionLine().Matches(usage))
        {
            string[] names = m.Groups["names"].Value.Split(", ");
            string[] verbs = m.Groups["verbs"].Value.Split(", ");
            bool takesValue = m.Groups["value"].Success;
            foreach (string name in names)
            {
                foreach (VerbSpec v in CommandLine.Verbs)
                {
                    string[] args = Example(v.Name, name, takesValue);
                    CommandLine cli = CommandLine.Parse(args);
                    bool listed = verbs.Contains(v.Name);
                    Assert.True(listed == (cli.Error is null), $"'{string.Join(' ', args)}': {(listed ? cli.Error : "accepted but not listed for " + v.Name)}");
                }
            }
        }

        Assert.Equal(CommandLine.Options.Length, OptionLine().Count(usage));
        Assert.Equal(CommandLine.Verbs.Length, VerbLine().Count(usage));
    }

    [Fact]
    public void The_exit_codes_of_the_usage_are_the_programs()
    {
        Assert.Contains($"{ExitCodes.Usage} bad command line", CommandLine.Usage, StringComparison.Ordinal);
        Assert.Contains($"{ExitCodes.NoPermission} missing capabilities", CommandLine.Usage, StringComparison.Ordinal);
        Assert.Contains($"{ExitCodes.Config} configuration error", CommandLine.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_agent_exits_64_on_a_bad_command_line_and_0_on_help()
    {
        using AgentProcess bad = AgentProcess.Start(["check", "--frobnicate"]);
        Assert.Equal(ExitCodes.Usage, bad.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("unknown option '--frobnicate'", bad.Output, StringComparison.Ordinal);

        using AgentProcess help = AgentProcess.Start(["--help"]);
        Assert.Equal(ExitCodes.Ok, help.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("pins [list | remove SET | remove --all]", help.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_names_the_agent_libbpf_and_the_kernel()
    {
        using AgentProcess v = AgentProcess.Start(["--version"]);
        Assert.Equal(0, v.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Matches(@"(?m)^bpf-agent \d+\.\d+\.\d+", v.Output);
        Assert.Matches(@"(?m)^libbpf v\d+\.\d+ \(/\S*libbpf\.so[.\d]*\)", v.Output);
        Assert.Contains($"kernel Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}", v.Output, StringComparison.Ordinal);
    }

    private static string[] Example(string verb, string option, bool takesValue)
    {
        var args = new List<string> { verb };
        if (verb == "inspect")
        {
            args.Add("a.bpf.o");
        }

        if (verb == "pins" && option == "--all")
        {
            args.Add("remove");
        }

        args.Add(option == "--Agent:Key=Value" ? "--Agent:Listen=http://127.0.0.1:1" : option);
        if (takesValue)
        {
            args.Add("/x");
        }

        return [.. args];
    }

    [GeneratedRegex(@"(?m)^  ([a-z]+)(?: [^\n]*)?$")]
    private static partial Regex VerbLine();

    [GeneratedRegex(@"(?m)^  (?<names>-[^ ,]+(?:, -[^ ,]+)?)(?<value> [A-Z]+)? +[^\n]*\[(?<verbs>[a-z, ]+)\]$")]
    private static partial Regex OptionLine();
}
