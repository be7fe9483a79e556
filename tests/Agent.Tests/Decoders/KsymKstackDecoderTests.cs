using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>ksym and kstack on a kallsyms file the test writes, and stacks from a source the test fills.</summary>
public sealed class KsymKstackDecoderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-ksym-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private KernelSymbols Symbols(string text)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("n"));
        File.WriteAllText(path, text);
        return KernelSymbols.Load(path);
    }

    private const string Kallsyms = """
        ffffffff81000000 T _stext
        ffffffff81001000 T do_syscall_64
        ffffffff81002000 t entry_SYSCALL_64
        ffffffff81003000 D some_data
        ffffffff81004000 T schedule [kernel]
        """;

    [Fact]
    public void Ksym_names_the_function_containing_an_address()
    {
        KernelSymbols symbols = Symbols(Kallsyms);
        var context = new DecoderContext(symbols: () => symbols);
        FieldValueDecoder d = On(U64, context, new DecoderSpec("ksym"));
        Assert.Equal("do_syscall_64", d.Label(Int(unchecked((long)0xffffffff81001010UL), 8)));
        Assert.Equal("entry_SYSCALL_64", d.Label(Int(unchecked((long)0xffffffff81002000UL), 8)));
        Assert.Equal("unknown_addr:0x10", d.Label(Int(0x10, 8)));
    }

    [Fact]
    public void Without_kallsyms_ksym_and_kstack_are_hex_and_say_so_once()
    {
        KernelSymbols none = Symbols("0000000000000000 T _stext\n"); // what a reader without CAP_SYSLOG sees
        Assert.Equal(0, none.Count);
        var context = new DecoderContext(symbols: () => none);
        Assert.Equal("unknown_addr:0xffffffff81001010", On(U64, context, new DecoderSpec("ksym")).Label(Int(unchecked((long)0xffffffff81001010UL), 8)));
        byte[] frames = new byte[16];
        BitConverter.TryWriteBytes(frames, 0xffffffff81001010UL);
        Assert.Equal("0xffffffff81001010", On(Bytes(16), context, new DecoderSpec("kstack")).Label(frames));
        Assert.Single(DecoderNotices.Said, s => s.StartsWith(none.Path, StringComparison.Ordinal) && s.Contains("CAP_SYSLOG", StringComparison.Ordinal));
    }

    [Fact]
    public void Kstack_reads_an_address_array_up_to_the_first_zero()
    {
        KernelSymbols symbols = Symbols(Kallsyms);
        var context = new DecoderContext(symbols: () => symbols);
        byte[] frames = new byte[32];
        BitConverter.TryWriteBytes(frames.AsSpan(0), 0xffffffff81004008UL);
        BitConverter.TryWriteBytes(frames.AsSpan(8), 0xffffffff81001100UL);
        BitConverter.TryWriteBytes(frames.AsSpan(16), 0x1000UL); // below every symbol: "??"
        Assert.Equal("schedule\ndo_syscall_64\n??", On(Bytes(32), context, new DecoderSpec("kstack")).Label(frames));
    }

    [Fact]
    public void Kstack_resolves_stack_ids_through_the_sets_stack_map()
    {
        KernelSymbols symbols = Symbols(Kallsyms);
        var source = new Stacks { [5] = [0xffffffff81001010UL, 0xffffffff81002020UL] };
        var context = new DecoderContext(symbols: () => symbols, stackMaps: StackMapBinding.Of(new Dictionary<string, IStackTraceSource> { ["stacks"] = source }));
        FieldValueDecoder d = On(S32, context, new DecoderSpec("kstack") { StackMap = "stacks" });
        Assert.Equal("do_syscall_64\nentry_SYSCALL_64", d.Label(Int(5, 4)));
        Assert.Equal("unknown_stack:6", d.Label(Int(6, 4)));
        Assert.Equal("stack_error:EFAULT", d.Label(Int(-Tmds.Linux.LibC.EFAULT, 4))); // bpf_get_stackid's error

        // An id missing at first is asked again (it may be recorded later), a known one is cached.
        source[6] = [0xffffffff81000010UL];
        Assert.Equal("_stext", d.Label(Int(6, 4)));
        Assert.Equal(3, source.Reads);
        _ = d.Label(Int(5, 4));
        Assert.Equal(3, source.Reads);
    }

    [Fact]
    public void Kstack_on_an_id_needs_a_stack_map_that_exists()
    {
        Assert.Contains("stack_map", Refusal(S32, new DecoderSpec("kstack")), StringComparison.Ordinal);
        var context = new DecoderContext(stackMaps: StackMapBinding.Of(new Dictionary<string, IStackTraceSource>()));
        Assert.Null(FieldValueDecoder.Create(Layout(S32).Find("v")!, [new DecoderSpec("kstack") { StackMap = "nope" }], context, out string? error));
        Assert.Contains("no map 'nope'", error, StringComparison.Ordinal);
    }

    private sealed class Stacks : Dictionary<uint, ulong[]>, IStackTraceSource
    {
        public int Reads { get; private set; }

        public int Read(uint id, Span<ulong> frames)
        {
            Reads++;
            if (!TryGetValue(id, out ulong[]? f))
            {
                return -1;
            }

            f.CopyTo(frames);
            return f.Length;
        }
    }
}
