using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>The native libbpf this process loaded: its version, and the one-time checks every entry point runs.</summary>
public static unsafe class Libbpf
{
    /// <summary>The oldest libbpf this binding is tested against (Debian 12 ships 1.1.2).</summary>
    public static readonly Version MinimumVersion = new(1, 1);

    private static readonly Lazy<Version> s_version = new(ReadVersion);
    private static int s_initialized;

    /// <summary>Major version of the loaded libbpf.</summary>
    public static int MajorVersion => (int)Interop.Libbpf.libbpf_major_version();

    /// <summary>Minor version of the loaded libbpf.</summary>
    public static int MinorVersion => (int)Interop.Libbpf.libbpf_minor_version();

    /// <summary>libbpf's own version string, for example "v1.1".</summary>
    public static string VersionString => NativeText.ToString(Interop.Libbpf.libbpf_version_string()) ?? "";

    /// <summary>The loaded version as a <see cref="System.Version"/>.</summary>
    public static Version Version => s_version.Value;

    /// <summary>Number of possible CPUs, the slot count of per-CPU map values.</summary>
    public static int PossibleCpuCount
    {
        get
        {
            int n = Interop.Libbpf.libbpf_num_possible_cpus();
            return n > 0 ? n : throw BpfException.FromErrno(-n, "libbpf_num_possible_cpus", null);
        }
    }

    /// <summary>Whether the loaded libbpf exports <paramref name="symbol"/> (newer functions degrade gracefully when not).</summary>
    public static bool HasFunction(string symbol) => TryGetExport(symbol, out _);

    internal static bool TryGetExport(string symbol, out nint address)
    {
        address = 0;
        return s_handle.Value != 0 && NativeLibrary.TryGetExport(s_handle.Value, symbol, out address);
    }

    private static readonly Lazy<nint> s_handle = new(() =>
        NativeLibrary.TryLoad(Interop.Libraries.Libbpf, out nint h) ? h : 0);

    /// <summary>
    /// Checks that libbpf can be loaded and is at least <see cref="MinimumVersion"/>, and installs the
    /// process-wide print callback (see <see cref="LibbpfLog"/>). Every entry point calls it; calling it first
    /// gives a clear error at startup instead of at the first object.
    /// </summary>
    public static void EnsureSupported()
    {
        if (Volatile.Read(ref s_initialized) == 1)
        {
            return;
        }

        Version v;
        try
        {
            v = Version;
        }
        catch (DllNotFoundException e)
        {
            throw new BpfException(
                $"{Interop.Libraries.Libbpf} could not be loaded: install libbpf 1.1 or newer (Debian: apt-get install libbpf1).",
                2, "dlopen", Interop.Libraries.Libbpf, e.Message, e);
        }

        if (v < MinimumVersion)
        {
            throw new BpfException(
                $"libbpf {v} is too old: bpf-agent needs {MinimumVersion} or newer.",
                95, "libbpf_major_version", Interop.Libraries.Libbpf, "unsupported version", null);
        }

        LibbpfLog.InstallCallback();
        Volatile.Write(ref s_initialized, 1);
    }

    private static Version ReadVersion() =>
        new((int)Interop.Libbpf.libbpf_major_version(), (int)Interop.Libbpf.libbpf_minor_version());
}
