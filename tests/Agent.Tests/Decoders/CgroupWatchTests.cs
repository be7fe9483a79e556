using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.CgroupKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// The cgroup table kept current by fanotify (CgroupWatch) on the host's real cgroup2 mount: cgroups this test
/// creates and removes show up in (and leave) the table with no walk of the mount. The rescan interval is
/// an hour, so a lookup that does not find an id never walks unless the watch marked the table stale.
/// </summary>
public sealed class CgroupWatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [KernelFact]
    public void Created_and_removed_cgroups_reach_the_table_without_a_walk()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string root = Path.Combine(mount, $"bpf-agent-watch-{Environment.ProcessId}");
        using var paths = new CgroupPaths(mount, rescanInterval: TimeSpan.FromHours(1), followEvents: true);
        Assert.True(paths.FollowsEvents, paths.Mode);
        Assert.Null(paths.Find(ulong.MaxValue)); // the first lookup walks once
        Assert.Equal(1, paths.Scans);
        try
        {
            // A parent and its child: the child's event names the parent by the id the parent's own event added.
            Directory.CreateDirectory(root);
            string child = Directory.CreateDirectory(Path.Combine(root, "child")).FullName;
            ulong rootId = CgroupPaths.Inode(root)!.Value, childId = CgroupPaths.Inode(child)!.Value;
            Assert.Equal(child, Eventually(() => paths.Find(childId), p => p is not null));
            Assert.Equal(root, paths.Find(rootId));

            Directory.Delete(child);
            Assert.Null(Eventually(() => paths.Find(childId), p => p is null));
            Directory.Delete(root);
            Assert.Null(Eventually(() => paths.Find(rootId), p => p is null));
            Assert.Equal(1, paths.Scans);
        }
        finally
        {
            RemoveTree(root);
        }
    }

    [KernelFact]
    public void Ten_thousand_create_remove_cycles_with_the_watch_leave_the_table_and_memory_bounded()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string root = Path.Combine(mount, $"bpf-agent-watch-churn-{Environment.ProcessId}");
        using var paths = new CgroupPaths(mount, rescanInterval: TimeSpan.FromHours(1), followEvents: true);
        Assert.True(paths.FollowsEvents, paths.Mode);
        Directory.CreateDirectory(root);
        Assert.NotNull(paths.Find(CgroupPaths.Inode(root)!.Value)); // walks once, root included
        int baseline = paths.Count;
        var ids = new List<ulong>(10_000);
        long memoryBefore = 0;
        int followed = 0;
        try
        {
            for (int i = 0; i < 10_000; i++)
            {
                string cg = Directory.CreateDirectory(Path.Combine(root, $"c{i}")).FullName;
                ulong id = CgroupPaths.Inode(cg)!.Value;
                ids.Add(id);
                long scans = paths.Scans;
                followed += paths.Find(id) == cg && paths.Scans == scans ? 1 : 0;
                Directory.Delete(cg);
                if (i == 999)
                {
                    memoryBefore = Memory();
                }
            }

            // Every churned cgroup leaves the table (others on this shared host may come and go meanwhile).
            Eventually(() => paths.Count, c => c <= baseline + 16);
            Assert.True(paths.Count <= baseline + 16, $"{paths.Count} cgroups in the table, {baseline} before the churn");
            Assert.All(ids, id => Assert.Null(paths.Find(id)));
            Assert.True(followed > 0, "no created cgroup was found through the watch");
            long growth = Memory() - memoryBefore;
            Assert.True(growth < 4 << 20, $"managed memory grew {growth / 1024} KiB over 9,000 cycles");
        }
        finally
        {
            RemoveTree(root);
        }
    }

    [Fact]
    public void Where_fanotify_cannot_watch_the_mount_a_miss_still_walks()
    {
        // A directory that is not a cgroup2 mount: the watch refuses it, saying why, and the table is walked.
        string dir = Directory.CreateTempSubdirectory("bpf-agent-no-cgroup2-").FullName;
        try
        {
            using var paths = new CgroupPaths(dir, rescanInterval: TimeSpan.Zero, followEvents: true);
            Assert.False(paths.FollowsEvents);
            Assert.Contains("no fanotify watch", paths.Mode, StringComparison.Ordinal);
            string sub = Directory.CreateDirectory(Path.Combine(dir, "a")).FullName;
            ulong id = CgroupPaths.Inode(sub)!.Value;
            Assert.Equal(sub, paths.Find(id));
            Assert.Equal(1, paths.Scans);
            Directory.Delete(sub);
            Assert.Null(paths.Find(ulong.MaxValue));
            Assert.Null(paths.Find(id));
            Assert.Equal(3, paths.Scans);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static T Eventually<T>(Func<T> read, Func<T, bool> done)
    {
        DateTime until = DateTime.UtcNow + Wait;
        T value = read();
        while (!done(value) && DateTime.UtcNow < until)
        {
            Thread.Sleep(5);
            value = read();
        }

        return value;
    }
}
