using System.Diagnostics;
using System.Globalization;
using System.Text;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// The one line the agent logs as it stops, after the final drain: how long it ran and, per set, the samples
/// received, delivered and dropped by stage, so a journal shows what a run did without a scrape.
/// </summary>
public static class ShutdownSummary
{
    public static void Log(ILogger logger, ProgramSetRegistry registry) =>
        logger.LogInformation("Stopped after {Uptime}: {Sets}", Uptime(DateTime.Now - Process.GetCurrentProcess().StartTime), Describe(registry));

    public static string Describe(ProgramSetRegistry registry)
    {
        var s = new StringBuilder();
        foreach (ProgramSetState set in registry.Sets)
        {
            if (s.Length > 0)
            {
                s.Append("; ");
            }

            if (set.Loaded is not LoadedProgramSet loaded)
            {
                s.Append(CultureInfo.InvariantCulture, $"{set.Name} {set.Status.ToString().ToLowerInvariant()}");
                continue;
            }

            long received = 0, delivered = 0, channel = 0, decode = 0;
            foreach (RingSource r in loaded.Rings)
            {
                received += r.Received;
                delivered += r.Delivered;
                channel += r.ChannelDropped;
                decode += r.DecodeErrors;
            }

            long kernel;
            try
            {
                kernel = loaded.KernelDropped;
            }
            catch (Exception)
            {
                kernel = -1; // the drop counter could not be read: said as "?" rather than as 0
            }

            s.Append(CultureInfo.InvariantCulture,
                $"{set.Name} received {received} delivered {delivered} dropped kernel {(kernel < 0 ? "?" : kernel)} channel {channel} decode {decode}");
        }

        return s.Length == 0 ? "no program sets" : s.ToString();
    }

    internal static string Uptime(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m{t.Seconds:00}s" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:0.0}s";
}
