using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;
using LibC = Tmds.Linux.LibC;

namespace BpfAgent.Tests.Decoders;

public sealed partial class ErrnoSyscallDecoderTests
{
    [Fact]
    public void Errno_names_kernel_return_values_of_either_sign()
    {
        FieldValueDecoder d = On(S32, "errno");
        Assert.Equal("ENOENT", d.Label(Int(-LibC.ENOENT, 4)));
        Assert.Equal("ENOENT", d.Label(Int(LibC.ENOENT, 4)));
        Assert.Equal("EACCES", d.Label(Int(-LibC.EACCES, 4)));
        Assert.Equal("0", d.Label(Int(0, 4)));

        // -2 and 2 are one label: the same instance, so one series.
        Assert.Same(d.Label(Int(-LibC.ENOENT, 4)), d.Label(Int(LibC.ENOENT, 4)));
    }

    [Fact]
    public void Errno_after_uint_parses_its_decimal_text_as_ebpf_exporter_chains_them()
    {
        FieldValueDecoder d = On(U32, "uint", "errno");
        Assert.Equal("EPERM", d.Label(Int(LibC.EPERM, 4)));
        Assert.Equal("unknown:4095", d.Label(Int(4095, 4)));
    }

    [Fact]
    public void Number_decoders_read_a_word_sized_byte_array_as_a_map_key_slice()
    {
        // ebpf_exporter cuts labels from a key by size: 4 raw bytes, little-endian.
        Assert.Equal("ENOENT", On(Bytes(4), "errno").Label(Int(LibC.ENOENT, 4)));
        Assert.Equal("ENOENT", On(Bytes(4), "uint", "errno").Label(Int(LibC.ENOENT, 4)));
        Assert.Contains("errno", Refusal(Bytes(3), new DecoderSpec("errno")), StringComparison.Ordinal);
    }

    [Fact]
    public void Syscall_uses_the_table_of_the_architecture()
    {
        Assert.Equal("getppid", ValueNames.Syscall(110, Architecture.X64));
        Assert.Equal("getppid", ValueNames.Syscall(173, Architecture.Arm64));
        Assert.Equal("openat", ValueNames.Syscall(56, Architecture.Arm64));
        Assert.Equal("unknown_syscall:56", ValueNames.Syscall(56, Architecture.Wasm)); // no table: numbers
        int read = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 63 : 0;
        Assert.Equal("read", On(S32, "syscall").Label(Int(read, 4)));
        Assert.Equal("unknown_syscall:100000", On(S32, "syscall").Label(Int(100000, 4)));
    }

    /// <summary>
    /// arm64 numbers syscalls by the kernel's generic table: every plain <c>#define __NR_name N</c> of
    /// asm-generic/unistd.h must be in the generated arm64 table under that name, except the 32-bit-only ones.
    /// </summary>
    [Fact]
    public void The_arm64_table_is_the_kernels_generic_numbering()
    {
        const string header = "/usr/include/asm-generic/unistd.h";
        Assert.True(File.Exists(header), $"{header} is missing: install linux-libc-dev");
        IReadOnlyDictionary<long, string> arm64 = ValueNames.SyscallTable(Architecture.Arm64)!;
        int compared = 0;
        foreach (Match m in PlainDefine().Matches(File.ReadAllText(header)))
        {
            string name = m.Groups[1].Value;
            long nr = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            if (name.EndsWith("time64", StringComparison.Ordinal)) // clock_gettime64, futex_time64...: 32-bit kernels only
            {
                Assert.False(arm64.ContainsKey(nr), $"{name} ({nr}) is for 32-bit kernels only");
                continue;
            }

            if (name is "arch_specific_syscall" or "syscalls" or "sync_file_range2")
            {
                continue; // markers, and arm64 keeps sync_file_range at 84
            }

            Assert.True(arm64.TryGetValue(nr, out string? got) && got == name, $"__NR_{name} is {nr}; the arm64 table says {got ?? "nothing"}");
            compared++;
        }

        Assert.True(compared > 250, $"only {compared} syscalls compared");

        // Ones the generic header defines through __NR3264_ (64-bit names on arm64), and arm64's own choices.
        Assert.Equal("fcntl", arm64[25]);
        Assert.Equal("renameat", arm64[38]);
        Assert.Equal("newfstatat", arm64[79]);
        Assert.Equal("fstat", arm64[80]);
        Assert.Equal("mmap", arm64[222]);
        Assert.Equal("sync_file_range", arm64[84]);
    }

    [GeneratedRegex(@"^#define __NR_(\w+)\s+(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex PlainDefine();
}
