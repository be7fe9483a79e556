using System.Text.Json;
using System.Text.Json.Nodes;

namespace BpfAgent.Tests;

/// <summary>
/// Program-set files for the end-to-end tests: the shipped objects (absolute paths to the built ones) with
/// their filter parameters set so that only the test's own events count, and logs at Information with a rate
/// limit high enough that every test event is logged.
/// </summary>
public static partial class ProgramSetJson
{
    public const string ExecLogMessage = "exec {filename} as {comm} pid={pid} ppid={ppid} uid={uid}";

    public const string TcpLogMessage = "tcp {saddr}:{sport} -> {daddr}:{dport} {oldstate} -> {newstate}";

    /// <summary>exec.bpf.o counting execs by comm, only of children of <paramref name="filterPpid"/>.</summary>
    public static string Exec(int filterPpid) => $$"""
        {
          "object": {{Quote(Paths.ProgramObject("exec"))}},
          "parameters": { "filter_ppid": {{filterPpid}} },
          "ringBuffers": [
            {
              "map": "exec_events",
              "struct": "exec_event",
              "metrics": [
                {
                  "name": "exec_events_total",
                  "type": "counter",
                  "help": "Programs executed, by command name.",
                  "labels": [ { "name": "comm", "field": "comm" } ],
                  "maxSeries": 500
                }
              ],
              "log": { "level": "information", "message": "{{ExecLogMessage}}", "ratePerSecond": 1000 }
            }
          ]
        }
        """;

    /// <summary>
    /// tcp_state.bpf.o counting state changes by state and ports, only on <paramref name="filterPort"/>, with the
    /// shipped variants (<paramref name="variant"/> forces one, see <see cref="Variants"/>).
    /// </summary>
    public static string TcpState(int filterPort, string? variant = null) => $$"""
        {
          "object": {{Quote(Paths.ProgramObject("tcp_state"))}},
          "parameters": { "filter_port": {{filterPort}} },
          "variants": {{Variants("tcp_state", variant)}},
          "ringBuffers": [
            {
              "map": "tcp_events",
              "struct": "tcp_state_event",
              "metrics": [
                {
                  "name": "tcp_state_changes_total",
                  "type": "counter",
                  "help": "TCP state transitions, by new state and local/remote port.",
                  "labels": [
                    { "name": "state", "field": "newstate" },
                    { "name": "sport", "field": "sport" },
                    { "name": "dport", "field": "dport" }
                  ],
                  "maxSeries": 2000
                }
              ],
              "log": {
                "level": "information",
                "message": "{{TcpLogMessage}}",
                "ratePerSecond": 1000,
                "decoders": { "saddr": "ipv4", "daddr": "ipv4" }
              }
            }
          ]
        }
        """;

    /// <summary>syscall_latency.bpf.o: a histogram of the syscalls of <paramref name="filterTgid"/> only.</summary>
    public static string SyscallLatency(int filterTgid, string? variant = null) => $$"""
        {
          "object": {{Quote(Paths.ProgramObject("syscall_latency"))}},
          "parameters": { "filter_tgid": {{filterTgid}}, "ignore_tgid": 0 },
          "variants": {{Variants("syscall_latency", variant)}},
          "ringBuffers": [
            {
              "map": "syscall_events",
              "struct": "syscall_event",
              "metrics": [
                {
                  "name": "syscall_latency_seconds",
                  "type": "histogram",
                  "help": "Time from sys_enter to sys_exit, by syscall.",
                  "field": "latency_ns",
                  "scale": 1e-9,
                  "buckets": { "exp2": { "min": 0.000001, "max": 1 } },
                  "labels": [ { "name": "syscall", "field": "syscall_nr", "decoder": "syscall" } ],
                  "maxSeries": 400
                }
              ]
            }
          ]
        }
        """;

    /// <summary>tests/Agent.Tests/bpf/rejected.bpf.o: valid config, but the verifier refuses its program.</summary>
    public static string Rejected() => $$"""
        {
          "object": {{Quote(Paths.TestObject("rejected"))}},
          "ringBuffers": [
            {
              "map": "rejected_events",
              "struct": "rejected_event",
              "metrics": [ { "name": "rejected_events_total", "type": "counter", "help": "Never counts: never loads." } ]
            }
          ]
        }
        """;

    /// <summary>A set whose object does not exist (at <paramref name="objectPath"/>).</summary>
    public static string MissingObject(string objectPath, bool optional) => $$"""
        {
          "object": {{Quote(objectPath)}},
          "optional": {{(optional ? "true" : "false")}},
          "ringBuffers": [
            {
              "map": "events",
              "struct": "event",
              "metrics": [ { "name": "missing_events_total", "type": "counter" } ]
            }
          ]
        }
        """;

    /// <summary>A kfunc no kernel has: a variant that requires it is never chosen.</summary>
    public const string AbsentKfunc = "kfunc:bpf_agent_test_absent_kfunc";

    /// <summary>The shipped set <paramref name="set"/> (config/programs.d) as shipped, its object path pointing at the build.</summary>
    public static string AsShipped(string set) =>
        ShippedObject().Replace(File.ReadAllText(Path.Combine(Paths.ShippedConfig, "programs.d", set + ".json")),
            m => $"\"object\": {Quote(Path.Combine(Paths.Root, "build", "programs", m.Groups[1].Value))}");

    [System.Text.RegularExpressions.GeneratedRegex("\"object\":\\s*\"[./]*build/programs/([^\"]+)\"")]
    private static partial System.Text.RegularExpressions.Regex ShippedObject();

    /// <summary>
    /// The variants of the shipped set <paramref name="set"/> (config/programs.d, or for the ring syscall_latency,
    /// which the shipped config keeps as an example, config/examples/syscall_latency_ring.json), as JSON. Without them an object
    /// with variants loads the programs of all of them (each counting the same events). <paramref name="force"/>
    /// makes every variant listed before that one require <see cref="AbsentKfunc"/>, so the agent passes them over.
    /// </summary>
    public static string Variants(string set, string? force = null)
    {
        JsonNode shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(Paths.ShippedConfig, "programs.d", set + ".json")))!;
        if (shipped["variants"] is null)
        {
            shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(Paths.ShippedConfig, "examples", set + "_ring.json")))!;
        }

        JsonArray variants = shipped["variants"]!.AsArray();
        if (force is not null)
        {
            Assert.Contains(variants, v => (string?)v!["name"] == force);
            foreach (JsonNode? v in variants.TakeWhile(v => (string?)v!["name"] != force))
            {
                if (v!["requires"] is JsonArray requires)
                {
                    requires.Add(AbsentKfunc);
                }
                else
                {
                    v["requires"] = new JsonArray(AbsentKfunc);
                }
            }
        }

        return variants.ToJsonString();
    }

    /// <summary>Parses <paramref name="json"/>, lets <paramref name="edit"/> change it, and writes it back.</summary>
    public static string Edit(string json, Action<JsonObject> edit)
    {
        JsonObject root = JsonNode.Parse(json)!.AsObject();
        edit(root);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string Quote(string s) => JsonSerializer.Serialize(s);
}
