using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Pipeline;
using BpfAgent.ProgramSets;
using Microsoft.Extensions.Logging.Abstractions;

namespace BpfAgent.Bench;

/// <summary>
/// `Agent.Bench set-consume --config-dir DIR --set NAME`: loads one shipped program set from its shipped
/// config with the agent's ProgramSetLoader (pinning off, so a running agent's pins are untouched; run-time
/// statistics off, as the agent's default, until "stats-on"), and consumes its rings with the agent's pipeline so
/// they never fill up while the kernel-side cost is measured. "stats" prints each program's run count and run time.
/// </summary>
internal static class ProgramSetConsumer
{
    public static int Run(ArgReader a)
    {
        string configDir = Path.GetFullPath(a.Find("--config-dir") ?? throw new ArgumentException("--config-dir is required"));
        string name = a.Find("--set") ?? throw new ArgumentException("--set is required");
        var options = new AgentOptions { ConfigDirectory = configDir };
        (IReadOnlyList<ProgramSetConfig> sets, IReadOnlyList<ConfigError> errors) = ProgramSetConfigReader.ReadDirectory(options.ProgramsPath, configDir);
        ProgramSetConfig config = sets.FirstOrDefault(s => s.Name == name)
            ?? throw new ArgumentException($"no set {name} in {options.ProgramsPath}: {string.Join("; ", errors)}");
        config = config with { Pinning = new PinningConfig { Enabled = false } };

        BpfStatsHandle? stats = null;
        var loader = new ProgramSetLoader(options, Serilog.Core.Logger.None);
        using LoadedProgramSet set = loader.Load(config);
        Channel<SampleBatch> channel = Channel.CreateBounded<SampleBatch>(new BoundedChannelOptions(options.ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var pool = new SampleBatchPool(options.BatchBytes);
        using var poller = new RingBufferPoller(channel.Writer, pool, options.PollTimeoutMs, NullLogger.Instance, options.ChannelFullWaitMs);
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);
        Task workerTask = Task.Factory.StartNew(worker.RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        poller.Start([.. set.Rings]);

        Console.Out.WriteLine("ready");
        string? line;
        while ((line = Console.In.ReadLine()) is not null && line.Trim() != "quit")
        {
            if (line.Trim() == "stats-on")
            {
                stats ??= BpfSystem.EnableRunTimeStats();
                Console.Out.WriteLine("stats-on");
            }
            else if (line.Trim() == "stats")
            {
                var sb = new StringBuilder("stats");
                foreach (BpfProgram p in set.Object.Programs)
                {
                    if (p.Fd >= 0)
                    {
                        BpfProgramInfo info = p.GetInfo();
                        sb.Append(CultureInfo.InvariantCulture, $" {p.Name}.run_cnt={info.RunCount} {p.Name}.run_time_ns={info.RunTimeNanoseconds}");
                    }
                }

                sb.Append(CultureInfo.InvariantCulture, $" received={set.Rings.Sum(r => r.Received)} delivered={set.Rings.Sum(r => r.Delivered)}");
                sb.Append(CultureInfo.InvariantCulture, $" kernel_dropped={set.KernelDropped} channel_dropped={set.Rings.Sum(r => r.ChannelDropped)}");
                Console.Out.WriteLine(sb.ToString());
            }
        }

        poller.Stop(TimeSpan.FromSeconds(5));
        channel.Writer.TryComplete();
        workerTask.Wait(TimeSpan.FromSeconds(5));
        stats?.Dispose();
        return 0;
    }
}
