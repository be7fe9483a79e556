namespace BpfAgent.Decoding.Decoders;

/// <summary><c>pci_vendor</c>: a PCI vendor id as its name from pci.ids; unknown: "unknown pci vendor: 0xVVVV".</summary>
public sealed class PciVendorDecoder(DecoderContext context) : NumberDecoder("pci_vendor")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new PciVendorDecoder(context) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        PciIds pci = context.Pci;
        if (pci.Missing is not null)
        {
            pci.NoteMissing();
            return PciIds.MissingText;
        }

        return pci.Vendor((ushort)value) ?? $"unknown pci vendor: 0x{value:x4}";
    }
}
