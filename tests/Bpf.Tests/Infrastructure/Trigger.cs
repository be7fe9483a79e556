using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Bpf.Tests;

/// <summary>Real syscalls the test programs hook; .NET itself never makes them, so counts are exact.</summary>
public static partial class Trigger
{
    public static void Getppid(int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            _ = LibC.getppid();
        }
    }

    public static void Getpgid(int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            _ = LibC.getpgid(0);
        }
    }

    public static void Getsid(int times = 1)
    {
        for (int i = 0; i < times; i++)
        {
            _ = getsid(0);
        }
    }

    // Tmds.LibC 0.5 has no getsid.
    [LibraryImport("libc.so.6")]
    private static partial int getsid(int pid);
}
