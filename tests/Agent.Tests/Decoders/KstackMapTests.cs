using Bpf;
using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// kstack against a real BPF_MAP_TYPE_STACK_TRACE map: tests/Agent.Tests/bpf/kstack_test.bpf.c records this
/// process's kernel stack at sys_enter_getppid; the decoder's frames must be exactly what the test reads from
/// the map itself and resolves in /proc/kallsyms.
/// </summary>
public sealed class KstackMapTests
{
    [KernelFact]
    public void Stack_ids_decode_to_the_frames_the_map_holds()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(Paths.TestObject("kstack_test"));
        open.SetGlobal("target_tgid", (uint)Environment.ProcessId);
        StackMapBinding binding = StackMapBinding.For(open);
        var context = new DecoderContext(stackMaps: binding);
        EventField field = EventField.At("stack_id", 0, 8, FieldShape.Signed);
        FieldValueDecoder d = FieldValueDecoder.Create(Layout(field).Find("stack_id")!, [new DecoderSpec("kstack") { StackMap = "stacks" }], context, out string? error)
            ?? throw new InvalidOperationException(error);
        Assert.Null(FieldValueDecoder.Create(Layout(field).Find("stack_id")!, [new DecoderSpec("kstack") { StackMap = "not_stacks" }], context, out error));
        Assert.Contains("not a BPF_MAP_TYPE_STACK_TRACE map", error, StringComparison.Ordinal);

        using BpfObject obj = open.Load();
        binding.Attach(obj);
        using BpfLink link = obj.GetProgram("kstack_on_getppid").Attach();
        _ = Tmds.Linux.LibC.getppid();

        Assert.True(obj.GetMap("last_stack").TryLookup(0u, out long id));
        Assert.True(id >= 0, $"bpf_get_stackid failed: {ValueNames.Errno(id)}");

        // What the map holds, read by the test itself.
        byte[] value = new byte[obj.GetMap("stacks").ValueSize];
        byte[] key = BitConverter.GetBytes((uint)id);
        Assert.True(obj.GetMap("stacks").TryLookup(key, value));
        KernelSymbols symbols = KernelSymbols.Load(KernelSymbols.DefaultPath);
        var expected = new List<string>();
        for (int off = 0; off < value.Length && BitConverter.ToUInt64(value, off) is ulong a && a != 0; off += 8)
        {
            string s = symbols.Resolve(a);
            expected.Add(s.StartsWith("0x", StringComparison.Ordinal) ? "??" : s);
        }

        Assert.NotEmpty(expected);
        string? label = d.Label(Int(id, 8));
        Assert.Equal(string.Join('\n', expected), label);
        Assert.Contains("do_syscall_64", label, StringComparison.Ordinal); // a real syscall's kernel stack

        // An id the map does not hold (the map has one stack: every getppid of this process has the same one).
        long other = (id + 1) % 1024;
        Assert.False(obj.GetMap("stacks").TryLookup(BitConverter.GetBytes((uint)other), value));
        Assert.Equal($"unknown_stack:{other}", d.Label(Int(other, 8)));
    }
}
