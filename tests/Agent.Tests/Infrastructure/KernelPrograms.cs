using System.Diagnostics;
using System.Text.Json;

namespace BpfAgent.Tests;

/// <summary>The BPF programs loaded in the kernel: ids from the Bpf library, names from bpftool.</summary>
public static class KernelPrograms
{
    /// <summary>Ids of every loaded program (all processes).</summary>
    public static IReadOnlySet<uint> Ids() => Bpf.BpfSystem.GetLoadedProgramIds().ToHashSet();

    /// <summary>
    /// Ids of the programs a process holds open, directly or through a link: the "prog_id:" lines of
    /// /proc/&lt;pid&gt;/fdinfo/*. Unlike a before/after diff of every id, this cannot pick up programs that
    /// another process loaded meanwhile.
    /// </summary>
    public static IReadOnlySet<uint> HeldBy(int pid)
    {
        var ids = new HashSet<uint>();
        foreach (string fdinfo in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            string text;
            try
            {
                text = File.ReadAllText(fdinfo);
            }
            catch (IOException)
            {
                continue; // the fd was closed meanwhile
            }

            foreach (string line in text.Split('\n'))
            {
                if (line.StartsWith("prog_id:", StringComparison.Ordinal))
                {
                    ids.Add(uint.Parse(line["prog_id:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        return ids;
    }

    /// <summary>id -> kernel name (truncated to 15 characters) of every loaded program, by `bpftool prog show --json`.</summary>
    public static IReadOnlyDictionary<uint, string> Names()
    {
        string bpftool = File.Exists("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "bpftool";
        var psi = new ProcessStartInfo(bpftool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "prog", "show", "--json" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(10)), "bpftool prog show did not finish");
        Assert.True(p.ExitCode == 0, $"bpftool prog show failed: {stderr.Result}");
        using JsonDocument doc = JsonDocument.Parse(stdout.Result);
        var names = new Dictionary<uint, string>();
        foreach (JsonElement prog in doc.RootElement.EnumerateArray())
        {
            names[prog.GetProperty("id").GetUInt32()] = prog.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? "" : "";
        }

        return names;
    }
}
