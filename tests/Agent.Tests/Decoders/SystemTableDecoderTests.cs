using BpfAgent.Decoding;
using BpfAgent.Decoding.Decoders;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>ifname, majorminor and the pci decoders, on the system's tables and on tables the test writes.</summary>
public sealed class SystemTableDecoderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-tables-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Ifname_names_the_loopback_and_marks_an_unused_index()
    {
        uint lo = uint.Parse(File.ReadAllText("/sys/class/net/lo/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        FieldValueDecoder d = On(U32, "ifname");
        Assert.Equal("lo", d.Label(Int(lo, 4)));
        Assert.Equal("unknown:99999", d.Label(Int(99999, 4)));
    }

    [Fact]
    public void Majorminor_splits_the_kernels_dev_t_and_names_partitions()
    {
        string partitions = Path.Combine(_dir, "partitions");
        File.WriteAllText(partitions, "major minor  #blocks  name\n\n 259        0  104857600 nvme0n1\n 259        1     524288 nvme0n1p1\n   8       17   10485760 sdb1\n");
        var d = new MajorMinorDecoder(partitions);
        Assert.Equal((8u, 17u), MajorMinorDecoder.Split((8u << 20) | 17));
        Assert.Equal("sdb1", d.DecodeInteger((8L << 20) | 17, 32));
        Assert.Equal("nvme0n1p1", d.DecodeInteger((259L << 20) | 1, 32));
        Assert.Equal("253:3", d.DecodeInteger((253L << 20) | 3, 32)); // not a partition: major:minor
        Assert.Equal("sdb1", d.Decode("8388625"u8)); // after uint: decimal text
    }

    [Fact]
    public void Pci_names_come_from_pci_ids()
    {
        PciIds ids = PciIds.Parse("test.ids", [
            "# comment",
            "8086  Intel Corporation",
            "\t1237  440FX - 82441FX PMC [Natoma]",
            "\t\t1af4 1100  Qemu virtual machine",
            "1af4  Red Hat, Inc.",
            "\t1000  Virtio network device",
            "C 02  Network controller",
            "\t00  Ethernet controller",
            "\t\t01  some prog-if",
            "C 01  Mass storage controller",
            "\t08  Non-Volatile memory controller",
        ]);
        var context = new DecoderContext(pci: () => ids);
        Assert.Equal("Intel Corporation", On(U16, context, new DecoderSpec("pci_vendor")).Label(Int(0x8086, 2)));
        Assert.Equal("unknown pci vendor: 0x1234", On(U16, context, new DecoderSpec("pci_vendor")).Label(Int(0x1234, 2)));
        Assert.Equal("Virtio network device", On(U32, context, new DecoderSpec("pci_device")).Label(Int(0x1af41000, 4)));
        Assert.Equal("unknown pci device: 0x80861000", On(U32, context, new DecoderSpec("pci_device")).Label(Int(0x80861000, 4)));
        Assert.Equal("Network controller", On(U8, context, new DecoderSpec("pci_class")).Label(Int(0x02, 1)));
        Assert.Equal("Ethernet controller", On(U16, context, new DecoderSpec("pci_subclass")).Label(Int(0x0200, 2)));
        Assert.Equal("Non-Volatile memory controller", On(U16, context, new DecoderSpec("pci_subclass")).Label(Int(0x0108, 2)));
        Assert.Equal("unknown pci subclass: 0x07 (class 0x02)", On(U16, context, new DecoderSpec("pci_subclass")).Label(Int(0x0207, 2)));
        Assert.Equal("unknown pci class: 0x0f", On(U16, context, new DecoderSpec("pci_subclass")).Label(Int(0x0f01, 2)));
    }

    [Fact]
    public void The_systems_pci_ids_is_installed_and_read()
    {
        PciIds ids = PciIds.Load(PciIds.DefaultPath);
        Assert.True(ids.Missing is null, $"{ids.Missing}: scripts/setup-host.sh installs Debian's pci.ids");
        Assert.True(ids.VendorCount > 1000, $"{ids.VendorCount} vendors");
        Assert.Equal("Intel Corporation", ids.Vendor(0x8086));
        Assert.Equal("Red Hat, Inc.", ids.Vendor(0x1af4));
        Assert.Equal("Network controller", ids.Class(0x02));
    }

    [Fact]
    public void A_missing_pci_ids_decodes_to_ebpf_exporters_text_and_says_how_to_install_it()
    {
        PciIds missing = PciIds.Load(Path.Combine(_dir, "no-pci.ids"));
        Assert.NotNull(missing.Missing);
        var context = new DecoderContext(pci: () => missing);
        Assert.Equal(PciIds.MissingText, On(U16, context, new DecoderSpec("pci_vendor")).Label(Int(0x8086, 2)));
        Assert.Single(DecoderNotices.Said, s => s.Contains(missing.Path, StringComparison.Ordinal) && s.Contains("apt-get install pci.ids", StringComparison.Ordinal));
    }
}
