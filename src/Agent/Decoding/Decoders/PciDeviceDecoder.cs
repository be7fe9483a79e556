namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>pci_device</c>: a PCI device as its name from pci.ids. Device ids are per vendor, so the number is
/// <c>vendor &lt;&lt; 16 | device</c> (as ebpf_exporter keys them); unknown: "unknown pci device: 0xVVVVDDDD".
/// </summary>
public sealed class PciDeviceDecoder(DecoderContext context) : NumberDecoder("pci_device")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new PciDeviceDecoder(context) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        PciIds pci = context.Pci;
        if (pci.Missing is not null)
        {
            pci.NoteMissing();
            return PciIds.MissingText;
        }

        return pci.Device((ushort)(value >> 16), (ushort)value) ?? $"unknown pci device: 0x{value:x4}";
    }
}
