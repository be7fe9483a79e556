using System.Net;
using System.Text.Json;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// Broken program sets beside a good one: an optional set whose object is missing, and a set whose program the
/// kernel's verifier refuses (tests/Agent.Tests/bpf/rejected.bpf.c). The good set loads and counts; each broken
/// one is reported in the log, in bpf_agent_program_set_up and in /healthz; the agent keeps serving.
/// </summary>
public sealed class FailureIsolationTests
{
    [KernelFact]
    public async Task A_missing_optional_object_and_a_verifier_rejection_are_reported_while_the_good_set_counts()
    {
        const int Execs = 4;
        using var config = new TestConfig();
        string missingObject = Path.Combine(config.Directory, "no-such-dir", "missing.bpf.o");
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: Environment.ProcessId));
        config.AddSet("missing", ProgramSetJson.MissingObject(missingObject, optional: true));
        config.AddSet("rejected", ProgramSetJson.Rejected());
        using var agent = AgentProcess.StartWithConfig(config);

        // /healthz: 503, naming exactly the failed sets, each with its reason; the good one is up.
        (HttpStatusCode status, JsonDocument health) = await AgentHealth.WaitAsync(agent, config.Url);
        using (health)
        {
            JsonElement root = health.RootElement;
            Assert.True(status == HttpStatusCode.ServiceUnavailable, $"/healthz: {(int)status} {root}");
            Assert.Equal("degraded", root.GetProperty("status").GetString());
            Assert.Equal(["missing", "rejected"], root.GetProperty("failed").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
            var sets = root.GetProperty("sets").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
            Assert.Equal(3, sets.Count);
            Assert.Equal("up", sets["exec"].GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, sets["exec"].GetProperty("error").ValueKind);
            Assert.Equal("failed", sets["missing"].GetProperty("status").GetString());
            Assert.Contains(missingObject, sets["missing"].GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Contains("does not exist", sets["missing"].GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal("failed", sets["rejected"].GetProperty("status").GetString());
            Assert.Contains("bpf_object__load", sets["rejected"].GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Contains("errno 13", sets["rejected"].GetProperty("error").GetString(), StringComparison.Ordinal); // EACCES: the verifier's refusal
        }

        // The good set works: exactly the test's execs.
        TestChildren.Run(TestChildren.True, Execs);
        string text = await SettleAsync(config.Url, t => Sum(t, "exec_events_total", ("comm", "true")) >= Execs, TimeSpan.FromSeconds(10));
        Assert.Equal(Execs, Sum(text, "exec_events_total", ("comm", "true")));

        // Metrics: one bpf_agent_program_set_up series per configured set.
        Assert.Equal(1, Sum(text, "bpf_agent_program_set_up", ("set", "exec")));
        Assert.Equal(0, Sum(text, "bpf_agent_program_set_up", ("set", "missing")));
        Assert.Equal(0, Sum(text, "bpf_agent_program_set_up", ("set", "rejected")));
        Assert.Single(Select(text, "bpf_agent_program_set_up", ("set", "missing")));
        Assert.Single(Select(text, "bpf_agent_program_set_up", ("set", "rejected")));
        Assert.Empty(Select(text, "bpf_agent_program_attached", ("set", "rejected")));
        Assert.Empty(Select(text, "rejected_events_total"));
        Assert.Empty(Select(text, "missing_events_total"));

        // Log: an error line naming each failed set, and the verifier's own words for the rejected one.
        string[] lines = agent.Output.Split('\n');
        Assert.Contains(lines, l => l.Contains(" ERR] ", StringComparison.Ordinal) && l.Contains("Program set missing failed", StringComparison.Ordinal) && l.Contains(missingObject, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" ERR] ", StringComparison.Ordinal) && l.Contains("Program set rejected failed", StringComparison.Ordinal));
        Assert.Contains("invalid mem access 'map_value_or_null'", agent.Output, StringComparison.Ordinal);
        Assert.Contains("Program set exec is up", agent.Output, StringComparison.Ordinal);

        // In the kernel, the agent holds the good set's program and nothing of the failed loads.
        IReadOnlyDictionary<uint, string> names = KernelPrograms.Names();
        Assert.Equal(["handle_exec"], KernelPrograms.HeldBy(agent.Pid).Select(id => names.GetValueOrDefault(id, $"id {id}")));

        // Still serving after all that, and a clean stop.
        Assert.False(agent.HasExited);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }
}
