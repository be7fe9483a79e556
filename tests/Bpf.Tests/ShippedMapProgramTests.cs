using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Bpf.Tests;

/// <summary>
/// The shipped in-kernel histogram programs (programs/syscall_latency_map, biolatency, runqlat), loaded as
/// shipped, driven by real events, read through BpfMapReader: counts move by at least what was triggered,
/// latencies land in plausible buckets, and every bucket's sum is consistent with its bounds.
/// </summary>
public sealed partial class ShippedMapProgramTests
{
    private const int MaxBucket = 26;

    private static string ProgramPath(string name) =>
        Path.Combine(TestObjects.RepositoryRoot, "build", "programs", name + ".bpf.o");

    /// <summary>One histogram bucket read back: labels (the key without its bucket), bucket, count, sum in ns.</summary>
    private sealed record Bucket(string Labels, uint Index, ulong Count, ulong SumNs);

    /// <summary>Reads a map of struct bpf_agent_hist_slot values whose key ends in (or is) the __u32 bucket.</summary>
    private static List<Bucket> ReadHistogram(BpfMap map)
    {
        var reader = new BpfMapReader(map);
        var buckets = new List<Bucket>();
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<byte> key = reader.GetKey(i);
                ulong count = reader.SumUnsigned(i, 0);
                if (count == 0)
                {
                    continue; // an array's bucket never hit
                }

                buckets.Add(new Bucket(
                    Convert.ToHexString(key[..^4]),
                    BinaryPrimitives.ReadUInt32LittleEndian(key[^4..]),
                    count,
                    reader.SumUnsigned(i, 8)));
            }
        }

        return buckets;
    }

    /// <summary>
    /// A bucket b holds latencies with floor(ns / 1000) in (2^(b-1), 2^b] microseconds (bucket 0: up to 1 us),
    /// so the mean of its latencies, sum / count, must lie in the same range.
    /// </summary>
    private static void AssertSumsFitTheirBuckets(IEnumerable<Bucket> buckets)
    {
        foreach (Bucket b in buckets)
        {
            Assert.InRange(b.Index, 0u, (uint)MaxBucket);
            double mean = (double)b.SumNs / b.Count;
            double low = b.Index == 0 ? 0 : ((1UL << (int)(b.Index - 1)) + 1) * 1000.0;
            double high = b.Index == MaxBucket ? double.MaxValue : ((1UL << (int)b.Index) + 1) * 1000.0;
            Assert.True(mean >= low && mean < high,
                $"bucket {b.Index} ({b.Labels}): mean {mean:F0} ns of {b.Count} is outside [{low}, {high}) ns");
        }
    }

    private static uint SyscallNumber(string name) => (RuntimeInformation.ProcessArchitecture, name) switch
    {
        (Architecture.X64, "getppid") => 110,
        (Architecture.X64, "clock_nanosleep") => 230,
        (Architecture.Arm64, "getppid") => 173,
        (Architecture.Arm64, "clock_nanosleep") => 115,
        _ => throw new PlatformNotSupportedException(name),
    };

    private static string SyscallLabel(uint nr) => Convert.ToHexString(BitConverter.GetBytes(nr));

    private static BpfObject LoadShipped(string name, Action<OpenBpfObject>? configure, out IReadOnlyList<BpfLink> links)
    {
        OpenBpfObject open = OpenBpfObject.OpenFile(ProgramPath(name));
        configure?.Invoke(open);
        BpfObject obj = open.Load();
        links = obj.AttachAll();
        return obj;
    }

    [KernelFact]
    public void Syscall_latency_map_counts_every_getppid_and_puts_sleeps_in_their_bucket()
    {
        const int Calls = 20_000;
        const int Sleeps = 20;
        using BpfObject obj = LoadShipped("syscall_latency_map", o => o.SetGlobal("filter_tgid", (uint)Environment.ProcessId), out var links);
        try
        {
            Trigger.Getppid(Calls);
            for (int i = 0; i < Sleeps; i++)
            {
                _ = usleep(5000); // clock_nanosleep of 5 ms: 5000 us, bucket 13 (4096, 8192]
            }
        }
        finally
        {
            foreach (BpfLink l in links)
            {
                l.Dispose();
            }
        }

        List<Bucket> buckets = ReadHistogram(obj.GetMap("syscall_latency_hist"));
        AssertSumsFitTheirBuckets(buckets);

        var getppid = buckets.Where(b => b.Labels == SyscallLabel(SyscallNumber("getppid"))).ToList();
        ulong count = getppid.Aggregate(0UL, (a, b) => a + b.Count);
        Assert.InRange(count, (ulong)Calls, (ulong)Calls + 10);

        // A getppid costs about a microsecond here: nearly all of them are in the lowest buckets (<= 16 us).
        ulong fast = getppid.Where(b => b.Index <= 4).Aggregate(0UL, (a, b) => a + b.Count);
        Assert.True(fast >= count * 99 / 100, $"only {fast} of {count} getppid calls took <= 16 us");

        var sleeps = buckets.Where(b => b.Labels == SyscallLabel(SyscallNumber("clock_nanosleep"))).ToList();
        Assert.True(sleeps.Sum(b => (long)b.Count) >= Sleeps, $"{sleeps.Sum(b => (long)b.Count)} sleeps recorded");
        // Never shorter than the 5 ms asked for; how much longer is the scheduler's (68 ms seen on this 2-vCPU machine
        // while three qemu guests ran): at most 1 s, bucket 20.
        Assert.All(sleeps, b => Assert.InRange(b.Index, 13u, 20u));
        ulong sleptNs = sleeps.Aggregate(0UL, (a, b) => a + b.SumNs);
        Assert.True(sleptNs >= Sleeps * 5_000_000UL, $"sleeps summed to {sleptNs} ns");

        // Nothing was refused: the histogram map had room for every key.
        var drops = new ulong[Libbpf.PossibleCpuCount];
        Assert.True(obj.GetMap("bpf_agent_drops").TryLookupPerCpu(0u, drops.AsSpan()));
        Assert.All(drops, d => Assert.Equal(0UL, d));
    }

    [KernelFact]
    public void The_ebpf_exporter_style_bench_program_records_the_same_histogram_as_the_shipped_one()
    {
        // The kernel-cost comparison is only fair if both programs do the same work: attached together,
        // they see the same getppid calls and must agree on counts, buckets and sum.
        const int Calls = 20_000;
        string exporterStyle = Path.Combine(TestObjects.RepositoryRoot, "build", "bench", "syscall_latency_exporter_style.bpf.o");
        using BpfObject shipped = LoadShipped("syscall_latency_map", null, out var shippedLinks);
        OpenBpfObject open = OpenBpfObject.OpenFile(exporterStyle);
        using BpfObject other = open.Load();
        IReadOnlyList<BpfLink> otherLinks = other.AttachAll();
        try
        {
            Trigger.Getppid(Calls);
        }
        finally
        {
            foreach (BpfLink l in shippedLinks.Concat(otherLinks))
            {
                l.Dispose();
            }
        }

        string label = SyscallLabel(SyscallNumber("getppid"));
        var ours = ReadHistogram(shipped.GetMap("syscall_latency_hist")).Where(b => b.Labels == label).ToDictionary(b => b.Index);

        // Theirs: __u64 per { syscall, bucket }, the sum (in microseconds) in bucket 27.
        var theirs = new Dictionary<uint, ulong>();
        var reader = new BpfMapReader(other.GetMap("syscall_latency_exp_style"));
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                if (Convert.ToHexString(reader.GetKey(i)[..4]) == label)
                {
                    theirs[BinaryPrimitives.ReadUInt32LittleEndian(reader.GetKey(i)[4..])] = reader.SumUnsigned(i, 0);
                }
            }
        }

        ulong theirSumUs = theirs.Remove(MaxBucket + 1, out ulong s) ? s : throw new InvalidOperationException("no sum bucket");
        ulong ourCount = ours.Values.Aggregate(0UL, (a, b) => a + b.Count);
        ulong theirCount = theirs.Values.Aggregate(0UL, (a, b) => a + b);
        // Neither filters by process: the host's other getppid calls in that window count too.
        Assert.InRange(ourCount, (ulong)Calls, (ulong)Calls + 100);
        Assert.InRange(theirCount, (ulong)Calls, (ulong)Calls + 100);
        Assert.InRange((long)ourCount - (long)theirCount, -5, 5);

        // Their timestamps are taken a program run apart from ours, so a call near a bucket edge may land in the next
        // bucket up or down (under qemu's TCG a program run takes about as long as the getppid itself: thousands do).
        // Two buckets away only when an interrupt came between the two programs (9 of 20,000 seen on the loaded host):
        // up to every edge, each side has counted the other's calls below the edge before, but for 1%.
        long ourBelow = 0, theirBelow = 0, ourUpTo = 0, theirUpTo = 0, slack = Calls / 100;
        for (uint b = 0; b <= MaxBucket; b++)
        {
            ourUpTo += (long)(ours.GetValueOrDefault(b)?.Count ?? 0);
            theirUpTo += (long)theirs.GetValueOrDefault(b);
            Assert.True(ourUpTo >= theirBelow - slack && theirUpTo >= ourBelow - slack,
                $"bucket {b}: ours {ourUpTo} up to it ({ourBelow} below), theirs {theirUpTo} ({theirBelow} below): over {slack} calls two buckets away");
            (ourBelow, theirBelow) = (ourUpTo, theirUpTo);
        }

        // Sums (theirs in whole microseconds): each fits its own buckets. Their interval is not ours (under TCG it
        // took in our programs' runs: 274 ms against our 117 ms for 20,000 calls on 5.10), so the sums are not compared.
        double low = 0, high = 0;
        foreach ((uint b, ulong n) in theirs)
        {
            low += n * (b == 0 ? 0 : Math.Pow(2, b - 1));
            high += b == MaxBucket ? double.PositiveInfinity : n * (Math.Pow(2, b) + 1);
        }

        Assert.InRange(theirSumUs, low, high);
        AssertSumsFitTheirBuckets([.. ours.Values]);
    }

    [KernelFact]
    public void Syscall_latency_map_keeps_the_ignored_tgid_out()
    {
        const int Calls = 5000;
        using BpfObject obj = LoadShipped("syscall_latency_map", o => o.SetGlobal("ignore_tgid", (uint)Environment.ProcessId), out var links);
        try
        {
            Trigger.Getppid(Calls);

            // Another process's syscalls, which must be recorded: on a quiet host nothing else may run meanwhile.
            using var child = System.Diagnostics.Process.Start("/bin/true")!;
            child.WaitForExit();
        }
        finally
        {
            foreach (BpfLink l in links)
            {
                l.Dispose();
            }
        }

        // The child's syscalls are there (the map is not empty), this process's getppid calls are not.
        List<Bucket> buckets = ReadHistogram(obj.GetMap("syscall_latency_hist"));
        Assert.NotEmpty(buckets);
        AssertSumsFitTheirBuckets(buckets);
        long getppid = buckets.Where(b => b.Labels == SyscallLabel(SyscallNumber("getppid"))).Sum(b => (long)b.Count);
        Assert.True(getppid < Calls / 10, $"{getppid} getppid calls recorded although this process is ignored");
    }

    [KernelFact]
    public void Biolatency_counts_fsynced_writes_on_the_disk_the_file_is_on()
    {
        const int Writes = 40;
        string dir = "/var/tmp";
        (uint major, uint minor) = WholeDiskOf(dir);
        uint dev = (major << 20) | minor;

        using BpfObject obj = LoadShipped("biolatency", null, out var links);
        string file = Path.Combine(dir, $"bpf-tests-bio-{Environment.ProcessId}");
        try
        {
            using (var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                byte[] block = new byte[4096];
                for (int i = 0; i < Writes; i++)
                {
                    Random.Shared.NextBytes(block);
                    stream.Write(block);
                    stream.Flush(flushToDisk: true); // fsync: the block reaches the disk before the next write
                }
            }
        }
        finally
        {
            File.Delete(file);
            foreach (BpfLink l in links)
            {
                l.Dispose();
            }
        }

        List<Bucket> buckets = ReadHistogram(obj.GetMap("bio_latency_hist"));
        AssertSumsFitTheirBuckets(buckets);

        // Key: dev (u32), op (enum bio_op, u32); write = 1.
        string writeLabels = Convert.ToHexString([.. BitConverter.GetBytes(dev), .. BitConverter.GetBytes(1u)]);
        var writes = buckets.Where(b => b.Labels == writeLabels).ToList();
        long count = writes.Sum(b => (long)b.Count);
        Assert.True(count >= Writes,
            $"{count} writes on {major}:{minor} (dev 0x{dev:X}), want >= {Writes}; seen: {string.Join(", ", buckets.Select(b => $"{b.Labels}/{b.Index}={b.Count}"))}");

        // A virtio disk completes a 4 KiB write in microseconds to milliseconds, never seconds.
        Assert.All(writes, b => Assert.InRange(b.Index, 0u, 20u));
        Assert.All(buckets, b => Assert.InRange(BinaryPrimitives.ReadUInt32LittleEndian(Convert.FromHexString(b.Labels).AsSpan(4)), 0u, 4u));
    }

    [KernelFact]
    public void Runqlat_sees_wakeups_and_the_wait_of_threads_contending_for_one_cpu()
    {
        const int Wakeups = 50;
        using BpfObject obj = LoadShipped("runqlat", o => o.SetGlobal("filter_tgid", (uint)Environment.ProcessId), out var links);
        try
        {
            // Two threads spinning on CPU 0 wait for each other's slices (milliseconds); a third on CPU 0
            // sleeps and wakes Wakeups times and then waits behind them too.
            using var stop = new CancellationTokenSource();
            var spinners = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
            {
                CpuAffinity.Pin(0);
                var sw = Stopwatch.StartNew();
                while (!stop.IsCancellationRequested && sw.ElapsedMilliseconds < 10_000)
                {
                    Thread.SpinWait(1000);
                }
            })).ToList();
            spinners.ForEach(t => t.Start());
            CpuAffinity.Run(0, () =>
            {
                for (int i = 0; i < Wakeups; i++)
                {
                    _ = usleep(2000);
                }
            });
            stop.Cancel();
            spinners.ForEach(t => t.Join());
        }
        finally
        {
            foreach (BpfLink l in links)
            {
                l.Dispose();
            }
        }

        List<Bucket> buckets = ReadHistogram(obj.GetMap("runq_latency_hist"));
        AssertSumsFitTheirBuckets(buckets);
        Assert.All(buckets, b => Assert.Equal("", b.Labels)); // the key is the bucket alone
        long count = buckets.Sum(b => (long)b.Count);
        Assert.True(count >= Wakeups, $"{count} run-queue waits recorded, want >= {Wakeups}");

        // Contention: some waits lasted a scheduler slice, more than 256 us (bucket 9 and up).
        long slices = buckets.Where(b => b.Index >= 9).Sum(b => (long)b.Count);
        Assert.True(slices >= 5, $"only {slices} waits above 256 us: {string.Join(", ", buckets.Select(b => $"{b.Index}={b.Count}"))}");
    }

    /// <summary>The whole disk (major, minor) holding <paramref name="path"/>, from mountinfo and sysfs.</summary>
    private static (uint Major, uint Minor) WholeDiskOf(string path)
    {
        string full = Path.GetFullPath(path);
        string? best = null;
        string bestMount = "";
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] f = line.Split(' ');
            string mount = f[4];
            bool under = full == mount || full.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (under && mount.Length >= bestMount.Length)
            {
                best = f[2];
                bestMount = mount;
            }
        }

        string devNumbers = best ?? throw new InvalidOperationException($"no mount holds {full}");
        string sys = $"/sys/dev/block/{devNumbers}";
        if (!Directory.Exists(sys))
        {
            throw new InvalidOperationException($"{full} is on {devNumbers}, which is not a block device (tmpfs, overlay?): biolatency needs a disk.");
        }

        if (File.Exists(Path.Combine(sys, "partition")))
        {
            devNumbers = File.ReadAllText(Path.Combine(sys, "..", "dev")).Trim();
        }

        string[] mm = devNumbers.Split(':');
        return (uint.Parse(mm[0], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(mm[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [LibraryImport("libc.so.6")]
    private static partial int usleep(uint microseconds);
}
