namespace Bpf.Tests;

/// <summary>Wrong files, rejected programs, wrong names and wrong lifetimes: each a clear exception, never a crash.</summary>
public sealed class BadInputTests
{
    [KernelFact]
    public void A_missing_file_is_ENOENT_naming_the_path()
    {
        string path = "/nonexistent-" + Guid.NewGuid().ToString("N") + "/missing.bpf.o";
        BpfException e = Assert.Throws<BpfException>(() => OpenBpfObject.OpenFile(path));
        Assert.Equal(2, e.Errno);
        Assert.Equal("bpf_object__open_file", e.Function);
        Assert.Equal(path, e.Subject);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(e.NativeMessage));
        Assert.Contains(e.NativeMessage, e.Message, StringComparison.Ordinal);

        e = Assert.Throws<BpfException>(() => BpfObject.Load(path));
        Assert.Equal(2, e.Errno);
    }

    [KernelFact]
    public void A_file_that_is_not_elf_is_refused_naming_the_path()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bpf-agent-test-" + Guid.NewGuid().ToString("N") + ".bpf.o");
        byte[] junk = new byte[4096];
        new Random(12345).NextBytes(junk);
        junk[0] = 0; // never the ELF magic
        File.WriteAllBytes(path, junk);
        try
        {
            BpfException e = Assert.Throws<BpfException>(() => OpenBpfObject.OpenFile(path));
            Assert.True(e.Errno > 0);
            Console.WriteLine($"non-ELF: {e.Message}");
            Assert.Contains(path, e.Message, StringComparison.Ordinal);

            e = Assert.Throws<BpfException>(() => OpenBpfObject.OpenMemory(junk, new BpfObjectOpenOptions { ObjectName = "junk" }));
            Assert.Equal("bpf_object__open_mem", e.Function);
            Assert.Contains("junk", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [KernelFact]
    public void An_elf_file_without_bpf_is_refused()
    {
        string path = File.Exists("/bin/true") ? "/bin/true" : "/usr/bin/true";
        BpfException e = Assert.Throws<BpfException>(() => OpenBpfObject.OpenFile(path));
        Assert.Equal(4001, e.Errno); // LIBBPF_ERRNO__FORMAT
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("format", e.NativeMessage, StringComparison.OrdinalIgnoreCase);
    }

    [KernelFact]
    public void A_verifier_rejection_throws_from_load_with_the_verifier_log()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"));
        open.GetProgram("missing_target").AutoLoad = false;
        BpfException e = Assert.Throws<BpfException>(open.Load);
        Assert.Equal("bpf_object__load", e.Function);
        Assert.True(e.Errno > 0);
        Assert.Equal(TestObjects.Path("bad_programs"), e.Subject);
        Assert.NotNull(e.VerifierLog);
        Assert.Contains("map_value_or_null", e.VerifierLog, StringComparison.Ordinal);
        Assert.Contains(e.VerifierLog, e.Message, StringComparison.Ordinal);

        // The failed load closed the object.
        Assert.True(open.IsDisposed);
        Assert.Throws<ObjectDisposedException>(open.Load);
    }

    [KernelFact]
    public void A_verifier_rejection_with_a_kernel_log_buffer_reports_from_that_buffer()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"), new BpfObjectOpenOptions
        {
            KernelLogSize = 1024 * 1024,
            KernelLogLevel = 1,
        });
        open.GetProgram("missing_target").AutoLoad = false;
        BpfException e = Assert.Throws<BpfException>(open.Load);
        Assert.Equal("bpf_object__load", e.Function);
        Assert.NotNull(e.VerifierLog);
        Assert.Contains("map_value_or_null", e.VerifierLog, StringComparison.Ordinal);
    }

    [KernelFact]
    public void A_kernel_log_buffer_too_small_fails_a_valid_load_with_a_message_that_says_so()
    {
        // Measured on 6.18: the kernel refuses the load (ENOSPC) when the requested log does not fit.
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test", new BpfObjectOpenOptions
        {
            KernelLogSize = 256,
            KernelLogLevel = 2,
        });
        BpfException e = Assert.Throws<BpfException>(open.Load);
        Assert.Equal(28, e.Errno);
        Assert.Equal("bpf_object__load", e.Function);
        Assert.Contains("KernelLogSize = 256", e.Message, StringComparison.Ordinal);
        Assert.True(open.IsDisposed);

        // The same object with room for its log loads.
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test", new BpfObjectOpenOptions
        {
            KernelLogSize = 1024 * 1024,
            KernelLogLevel = 2,
        }).Load();
        Assert.True(obj.GetProgram("count_calls").Fd >= 0);
    }

    [KernelFact]
    public void Attaching_to_a_tracepoint_that_does_not_exist_is_ENOENT_naming_program_and_section()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("bad_programs"));
        open.GetProgram("rejected").AutoLoad = false;
        using BpfObject obj = open.Load();
        BpfProgram missing = obj.GetProgram("missing_target");
        Assert.True(missing.Fd >= 0);

        BpfException e = Assert.Throws<BpfException>(() => missing.Attach());
        Assert.Equal(2, e.Errno);
        Assert.Equal("bpf_program__attach", e.Function);
        Assert.Contains("missing_target", e.Message, StringComparison.Ordinal);
        Assert.Contains("tp/syscalls/sys_enter_bpf_agent_no_such_tracepoint", e.Message, StringComparison.Ordinal);

        // AttachAll reports the same failure (and leaves nothing attached).
        e = Assert.Throws<BpfException>(() => obj.AttachAll());
        Assert.Equal(2, e.Errno);

        // A program that was not loaded cannot be attached either.
        Assert.True(obj.GetProgram("rejected").Fd < 0);
        Assert.Throws<BpfException>(() => obj.GetProgram("rejected").Attach());
    }

    [KernelFact]
    public void Unknown_program_map_and_global_names_are_reported()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        Assert.False(open.TryGetProgram("no_such_program", out _));
        Assert.False(open.TryGetMap("no_such_map", out _));
        Assert.Throws<KeyNotFoundException>(() => open.GetProgram("no_such_program"));
        Assert.Throws<KeyNotFoundException>(() => open.GetMap("no_such_map"));
        KeyNotFoundException e = Assert.Throws<KeyNotFoundException>(() => open.SetGlobal("no_such_global", 1u));
        Assert.Contains("no_such_global", e.Message, StringComparison.Ordinal);

        // Maps and programs are not globals.
        Assert.Throws<KeyNotFoundException>(() => open.SetGlobal("counts", 1u));

        using BpfObject obj = open.Load();
        Assert.False(obj.TryGetProgram("no_such_program", out _));
        Assert.False(obj.TryGetMap("no_such_map", out _));
        Assert.Throws<KeyNotFoundException>(() => obj.GetProgram("no_such_program"));
        Assert.Throws<KeyNotFoundException>(() => obj.GetMap("no_such_map"));
        Assert.Throws<KeyNotFoundException>(() => obj.ReadGlobal<uint>("no_such_global"));
    }

    [KernelFact]
    public void A_name_with_a_NUL_character_is_an_ArgumentException()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        Assert.Throws<ArgumentException>(() => obj.GetProgram("count_calls\0x"));
        Assert.Throws<ArgumentException>(() => obj.TryGetMap("counts\0", out _));
        Assert.Throws<ArgumentException>(() => OpenBpfObject.OpenFile(TestObjects.Path("maps_test") + "\0.txt"));
    }

    [KernelFact]
    public void Pinning_outside_bpffs_is_refused_naming_the_path()
    {
        string dir = Path.Combine(Path.GetTempPath(), "bpf-agent-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
            string path = Path.Combine(dir, "counts");
            BpfException e = Assert.Throws<BpfException>(() => obj.GetMap("counts").Pin(path));
            Assert.Equal(22, e.Errno);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            e = Assert.Throws<BpfException>(() => obj.PinMaps(dir));
            Assert.Contains(dir, e.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => obj.PinMaps(""));
            Assert.Empty(Directory.GetFileSystemEntries(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void A_global_of_the_wrong_size_is_an_ArgumentException_and_changes_nothing()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        ArgumentException e = Assert.Throws<ArgumentException>(() => open.SetGlobal("target_tgid", 1UL));
        Assert.Contains("4 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => open.SetGlobal("hits", 1u));
        Assert.Throws<ArgumentException>(() => open.SetGlobal("initial_marker", ReadOnlySpan<byte>.Empty));

        using BpfObject obj = open.Load();
        Assert.Equal((uint)Environment.ProcessId, obj.ReadGlobal<uint>("target_tgid"));
        Assert.Equal(7u, obj.ReadGlobal<uint>("initial_marker"));
        Assert.Throws<ArgumentException>(() => obj.ReadGlobal<uint>("hits"));
        Assert.Throws<ArgumentException>(() => obj.ReadGlobal("target_tgid", new byte[8]));
    }

    [KernelFact]
    public void Opening_an_empty_buffer_is_an_ArgumentException()
    {
        Assert.Throws<ArgumentException>(() => OpenBpfObject.OpenMemory(ReadOnlySpan<byte>.Empty));
        Assert.Throws<ArgumentException>(() => OpenBpfObject.OpenMemory([], new BpfObjectOpenOptions { ObjectName = "x" }));
        Assert.Throws<ArgumentException>(() => OpenBpfObject.OpenFile(""));
    }

    [KernelFact]
    public void Disposing_objects_links_and_ring_buffers_twice_is_harmless()
    {
        OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        OpenBpfObject unused = TestObjects.OpenForThisProcess("maps_test");
        unused.Dispose();
        unused.Dispose();
        Assert.True(unused.IsDisposed);

        BpfObject obj = open.Load();
        open.Dispose();
        open.Dispose();

        BpfLink link = obj.GetProgram("emit_burst").Attach();
        var rb = new RingBuffer(obj.GetMap("events"), new SampleCollector());
        Trigger.Getppid(1);
        Assert.Equal(1, rb.Consume());

        link.Dispose();
        link.Dispose();
        Assert.True(link.IsClosed);
        rb.Dispose();
        rb.Dispose();
        obj.Dispose();
        obj.Dispose();
        Assert.True(obj.IsDisposed);
    }

    [KernelFact]
    public void Use_after_dispose_throws_ObjectDisposedException()
    {
        OpenBpfObject open = TestObjects.OpenForThisProcess("maps_test");
        OpenBpfMap openMap = open.GetMap("counts");
        OpenBpfProgram openProgram = open.GetProgram("count_calls");
        Btf openBtf = open.Btf!;
        BpfObject obj = open.Load();

        // The open object was consumed by Load, and so were its maps and programs.
        Assert.True(open.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => open.Name);
        Assert.Throws<ObjectDisposedException>(() => open.Programs);
        Assert.Throws<ObjectDisposedException>(() => open.GetMap("counts"));
        Assert.Throws<ObjectDisposedException>(() => open.SetGlobal("target_tgid", 1u));
        Assert.Throws<ObjectDisposedException>(() => open.KernelVersion);
        Assert.Throws<ObjectDisposedException>(open.Load);
        Assert.Throws<ObjectDisposedException>(() => openMap.Name);
        Assert.Throws<ObjectDisposedException>(() => openMap.PinPath = "/sys/fs/bpf/x");
        Assert.Throws<ObjectDisposedException>(() => openMap.MaxEntries = 4);
        Assert.Throws<ObjectDisposedException>(() => openMap.SetInitialValue(new byte[8]));
        Assert.Throws<ObjectDisposedException>(() => openProgram.AutoLoad = false);
        Assert.Throws<ObjectDisposedException>(() => openProgram.Section);
        Assert.Throws<ObjectDisposedException>(() => openBtf.FindType("hits", BtfKind.Variable));

        BpfMap map = obj.GetMap("counts");
        BpfProgram program = obj.GetProgram("count_calls");
        Btf btf = obj.Btf!;
        BpfLink link = program.Attach();
        obj.Dispose();

        Assert.Throws<ObjectDisposedException>(() => obj.Name);
        Assert.Throws<ObjectDisposedException>(() => obj.Maps);
        Assert.Throws<ObjectDisposedException>(() => obj.GetProgram("count_calls"));
        Assert.Throws<ObjectDisposedException>(() => obj.TryGetMap("counts", out _));
        Assert.Throws<ObjectDisposedException>(() => obj.ReadGlobal<ulong>("hits"));
        Assert.Throws<ObjectDisposedException>(() => obj.AttachAll());
        Assert.Throws<ObjectDisposedException>(() => obj.BtfFd);
        Assert.Throws<ObjectDisposedException>(() => obj.PinMaps("/sys/fs/bpf/x"));
        Assert.Throws<ObjectDisposedException>(() => map.Fd);
        Assert.Throws<ObjectDisposedException>(() => map.Name);
        Assert.Throws<ObjectDisposedException>(() => map.TryLookup(1u, out ulong _));
        Assert.Throws<ObjectDisposedException>(() => map.Update(1u, 1UL));
        Assert.Throws<ObjectDisposedException>(() => map.Delete(new byte[4]));
        Assert.Throws<ObjectDisposedException>(() => map.Keys());
        Assert.Throws<ObjectDisposedException>(() => map.Pin("/sys/fs/bpf/x"));
        Assert.Throws<ObjectDisposedException>(() => new RingBuffer(map, new SampleCollector()));
        Assert.Throws<ObjectDisposedException>(() => program.Fd);
        Assert.Throws<ObjectDisposedException>(() => program.Attach());
        Assert.Throws<ObjectDisposedException>(() => program.GetInfo());
        Assert.Throws<ObjectDisposedException>(() => btf.TypeCount);
        Assert.Throws<ObjectDisposedException>(() => btf.GetStruct("anything"));

        // The link is its own handle: still valid until disposed, then it throws too.
        Assert.True(link.Fd >= 0);
        link.Dispose();
        Assert.Throws<ObjectDisposedException>(() => link.Fd);
    }

    [KernelFact]
    public void A_ring_buffer_used_after_dispose_throws_ObjectDisposedException()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("ringbuf_test").Load();
        var rb = new RingBuffer(obj.GetMap("events"), new SampleCollector());
        rb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rb.Poll(0));
        Assert.Throws<ObjectDisposedException>(() => rb.Consume());
        Assert.Throws<ObjectDisposedException>(() => rb.EpollFd);
        Assert.Throws<ObjectDisposedException>(() => rb.Add(obj.GetMap("events2"), new SampleCollector()));
    }

    [KernelFact]
    public void Default_map_and_program_structs_throw_instead_of_passing_null_to_libbpf()
    {
        BpfMap map = default;
        BpfProgram program = default;
        OpenBpfMap openMap = default;
        Assert.Throws<InvalidOperationException>(() => map.Fd);
        Assert.Throws<InvalidOperationException>(() => program.Name);
        Assert.Throws<InvalidOperationException>(() => openMap.Name);
        Assert.Equal("(none)", map.ToString());
    }
}
