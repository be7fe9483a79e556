namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>pci_subclass</c>: <c>class &lt;&lt; 8 | subclass</c> as the subclass's name from pci.ids; unknown:
/// "unknown pci subclass: 0xSS (class 0xCC)", or "unknown pci class: 0xCC" when the class is unknown too.
/// </summary>
public sealed class PciSubclassDecoder(DecoderContext context) : NumberDecoder("pci_subclass")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new PciSubclassDecoder(context) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        PciIds pci = context.Pci;
        if (pci.Missing is not null)
        {
            pci.NoteMissing();
            return PciIds.MissingText;
        }

        byte cls = (byte)(value >> 8);
        byte sub = (byte)value;
        return pci.Subclass(cls, sub) ?? (pci.Class(cls) is null ? $"unknown pci class: 0x{cls:x2}" : $"unknown pci subclass: 0x{sub:x2} (class 0x{cls:x2})");
    }
}
