namespace BpfAgent.Decoding.Decoders;

/// <summary><c>pci_class</c>: a PCI class id (the base class byte) as its name from pci.ids; unknown: "unknown pci class: 0xCC".</summary>
public sealed class PciClassDecoder(DecoderContext context) : NumberDecoder("pci_class")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new PciClassDecoder(context) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        PciIds pci = context.Pci;
        if (pci.Missing is not null)
        {
            pci.NoteMissing();
            return PciIds.MissingText;
        }

        return pci.Class((byte)value) ?? $"unknown pci class: 0x{value:x2}";
    }
}
