using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.CgroupKit;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// The cgroup decoder against real cgroups this test creates and removes under the cgroup2 mount (mkdir/rmdir;
/// a cgroup's id is its directory's inode number, what bpf_get_current_cgroup_id reports).
/// </summary>
public sealed class CgroupDecoderTests
{
    [Fact]
    public void The_cgroup2_mount_is_found_in_mountinfo()
    {
        string dir = Directory.CreateTempSubdirectory("bpf-agent-mountinfo-").FullName;
        try
        {
            string mountinfo = Path.Combine(dir, "mountinfo");
            File.WriteAllText(mountinfo, """
                25 1 0:23 / /sys rw,nosuid - sysfs sysfs rw
                35 25 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
                36 35 0:31 / /sys/fs/cgroup/unified\040v2 rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
                37 35 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
                """);
            Assert.Equal("/sys/fs/cgroup/unified v2", CgroupPaths.FindCgroup2Mount(mountinfo));
            File.WriteAllText(mountinfo, "37 35 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
            Assert.Null(CgroupPaths.FindCgroup2Mount(mountinfo));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void Ids_of_created_and_removed_cgroups_decode_to_their_path_or_a_stable_placeholder()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string root = Path.Combine(mount, $"bpf-agent-test-{Environment.ProcessId}");
        var paths = new CgroupPaths(mount, rescanInterval: TimeSpan.Zero);
        var context = new DecoderContext(cgroups: () => paths);
        FieldValueDecoder d = On(U64, context, new DecoderSpec("cgroup"));
        Directory.CreateDirectory(root);
        try
        {
            string child = Directory.CreateDirectory(Path.Combine(root, "child")).FullName;
            ulong id = CgroupPaths.Inode(child)!.Value;
            Assert.Equal(child, d.Label(Int((long)id, 8)));
            Assert.Equal(root, d.Label(Int((long)CgroupPaths.Inode(root)!.Value, 8)));

            // Removed: its path stays the label of the id already seen (the id is never reused), and a fresh decoder
            // that never saw it gets the placeholder, the same instance each time, counted.
            Directory.Delete(child);
            Assert.Equal(child, d.Label(Int((long)id, 8)));
            Assert.Null(paths.Find(ulong.MaxValue)); // a miss walks the mount again: the removal is seen
            FieldValueDecoder fresh = On(U64, context, new DecoderSpec("cgroup"));
            long before = DecoderNotices.UnknownCount("cgroup");
            string? first = fresh.Label(Int((long)id, 8));
            Assert.Equal($"unknown_cgroup_id:{id}", first);
            Assert.Same(first, fresh.Label(Int((long)id, 8)));
            Assert.Equal(before + 2, DecoderNotices.UnknownCount("cgroup"));
            Assert.Null(paths.Find(id));
        }
        finally
        {
            RemoveTree(root);
        }
    }

    [KernelFact]
    public void Ten_thousand_create_remove_cycles_keep_the_table_and_memory_bounded()
    {
        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string root = Path.Combine(mount, $"bpf-agent-churn-{Environment.ProcessId}");
        var paths = new CgroupPaths(mount, rescanInterval: TimeSpan.FromMilliseconds(20));
        var context = new DecoderContext(cgroups: () => paths);
        FieldValueDecoder d = On(U64, context, new DecoderSpec("cgroup"));
        Directory.CreateDirectory(root);
        int existing = Directory.GetDirectories(mount, "*", SearchOption.AllDirectories).Length + 1;
        long memoryBefore = 0;
        int resolved = 0;
        try
        {
            for (int i = 0; i < 10_000; i++)
            {
                string cg = Directory.CreateDirectory(Path.Combine(root, $"c{i}")).FullName;
                ulong id = CgroupPaths.Inode(cg)!.Value;
                string? label = d.Label(Int((long)id, 8));
                Assert.True(label == cg || label == $"unknown_cgroup_id:{id}", $"cycle {i}: {label}");
                resolved += label == cg ? 1 : 0;
                Directory.Delete(cg);
                if (i == 999)
                {
                    memoryBefore = Memory();
                }

                // The table holds what exists at the last walk: never the churned cgroups piling up.
                Assert.True(paths.Count <= existing + 2, $"cycle {i}: {paths.Count} cgroups in the table, {existing} exist");
            }

            Assert.True(resolved > 0, "no cgroup was ever resolved");
            Assert.True(paths.Scans > 1, "the mount was walked only once");
            long growth = Memory() - memoryBefore;

            // 9,000 more cycles: the decoder's own caches are bounded (placeholders at 1,024, values at CacheLimit),
            // and the table does not grow; what is left is a few MB of cached labels at most.
            Assert.True(growth < 8 << 20, $"managed memory grew {growth / 1024} KiB over 9,000 cycles");
        }
        finally
        {
            RemoveTree(root);
        }
    }
}
