using System.Buffers.Binary;

namespace Bpf.Tests;

/// <summary>struct test_event of bpf/test_event.h, checked byte by byte.</summary>
public static class TestEvent
{
    public const int Size = 48;
    public const int KindReserved = 1;
    public const int KindOutput = 2;
    public const int KindNoWakeup = 3;
    public const int KindDiscarded = 4;

    public static ulong Seq(byte[] s) => BinaryPrimitives.ReadUInt64LittleEndian(s);

    public static uint Tgid(byte[] s) => BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8));

    public static int Kind(byte[] s) => BinaryPrimitives.ReadInt32LittleEndian(s.AsSpan(12));

    /// <summary>The exact 48 bytes the producer writes for this sequence number and kind.</summary>
    public static byte[] Expected(ulong seq, int kind, string comm)
    {
        var e = new byte[Size];
        BinaryPrimitives.WriteUInt64LittleEndian(e, seq);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(8), (uint)Environment.ProcessId);
        BinaryPrimitives.WriteInt32LittleEndian(e.AsSpan(12), kind);
        System.Text.Encoding.ASCII.GetBytes(comm.Length > 15 ? comm[..15] : comm).CopyTo(e.AsSpan(16));
        for (int i = 0; i < 16; i++)
        {
            e[32 + i] = (byte)((seq * 31) + (ulong)i);
        }

        return e;
    }

    /// <summary>The calling thread's comm, as bpf_get_current_comm sees it.</summary>
    public static string CurrentThreadComm()
    {
        return File.ReadAllText("/proc/thread-self/comm").TrimEnd('\n');
    }
}
