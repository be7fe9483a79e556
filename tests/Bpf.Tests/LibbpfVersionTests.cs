namespace Bpf.Tests;

public sealed class LibbpfVersionTests
{
    [Fact]
    public void The_loaded_libbpf_is_at_least_1_1_and_its_version_string_agrees()
    {
        Assert.True(Libbpf.MajorVersion >= 1);
        Assert.True(Libbpf.Version >= new Version(1, 1), $"libbpf {Libbpf.Version}");
        Assert.True(Libbpf.Version >= Libbpf.MinimumVersion);
        Assert.Equal(new Version(Libbpf.MajorVersion, Libbpf.MinorVersion), Libbpf.Version);

        string text = Libbpf.VersionString;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal($"v{Libbpf.MajorVersion}.{Libbpf.MinorVersion}", text);
    }

    [Fact]
    public void HasFunction_tells_exported_functions_from_missing_ones()
    {
        Assert.True(Libbpf.HasFunction("bpf_object__open_file"));
        Assert.True(Libbpf.HasFunction("ring_buffer__poll"));
        Assert.True(Libbpf.HasFunction("user_ring_buffer__reserve_blocking"));
        Assert.False(Libbpf.HasFunction("no_such_function"));
        Assert.False(Libbpf.HasFunction(""));
    }

    [Fact]
    public void PossibleCpuCount_covers_every_cpu_this_process_can_use()
    {
        int possible = Libbpf.PossibleCpuCount;
        Assert.True(possible >= Environment.ProcessorCount, $"{possible} possible, {Environment.ProcessorCount} usable");

        // /sys/devices/system/cpu/possible is what libbpf parses, for example "0-1".
        string range = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
        int last = range.Split(',').Select(r => int.Parse(r.Split('-')[^1], System.Globalization.CultureInfo.InvariantCulture)).Max();
        Assert.Equal(last + 1, possible);
    }

    [Fact]
    public void EnsureSupported_passes_on_this_host_and_is_idempotent()
    {
        Libbpf.EnsureSupported();
        Libbpf.EnsureSupported();
    }
}
