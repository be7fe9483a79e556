namespace Bpf.Tests;

/// <summary>
/// The BTF reader against what clang laid out for struct btf_event (btf_test.bpf.c): the compiler's own
/// offsetof/sizeof values come from the `layout` rodata array.
/// </summary>
public sealed class BtfTests
{
    private static readonly string[] s_memberNames =
        ["small", "port", "negative", "big", "name", "color", "qualified", "low", "high", "inner", "bytes"];

    // The order of `layout` in btf_test.bpf.c; its last entry is sizeof(struct btf_event).
    private static readonly string[] s_layoutMembers =
        ["small", "port", "negative", "big", "name", "color", "qualified", "inner", "bytes"];

    [KernelFact]
    public void Member_offsets_and_the_struct_size_match_what_the_compiler_laid_out()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        byte[] raw = new byte[40];
        obj.ReadGlobal("layout", raw);
        uint[] layout = [.. Enumerable.Range(0, 10).Select(i => BitConverter.ToUInt32(raw, i * 4))];

        BtfType ev = obj.Btf!.GetStruct("btf_event");
        Assert.Equal(BtfKind.Struct, ev.Kind);
        Assert.Equal("btf_event", ev.Name);
        for (int i = 0; i < s_layoutMembers.Length; i++)
        {
            BtfMember m = ev.FindMember(s_layoutMembers[i])!;
            Assert.False(m.IsBitfield, m.Name);
            Assert.True(layout[i] == m.Offset, $"{m.Name}: clang says {layout[i]}, BTF says {m.Offset}");
            Assert.Equal(m.Offset * 8, m.BitOffset);
        }

        Assert.Equal((int)layout[9], ev.Size);

        // Not trivially zero: the struct has padding and needs every member in the right place.
        Assert.Equal(48, ev.Size);
        Assert.Equal(38u, layout[7]);
    }

    [KernelFact]
    public void Members_come_in_declaration_order_with_their_types()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        Btf btf = obj.Btf!;
        BtfType ev = btf.GetStruct("btf_event");
        Assert.Equal(s_memberNames, ev.Members.Select(m => m.Name));

        BtfType small = ev.GetMemberType(ev.FindMember("small")!).Resolve();
        Assert.Equal((BtfKind.Int, 1, false), (small.Kind, small.Size, small.Int!.Value.IsSigned));

        BtfType big = ev.GetMemberType(ev.FindMember("big")!);
        Assert.Equal(BtfKind.Typedef, big.Kind);
        Assert.Equal("__u64", big.Name);
        Assert.Equal(8, big.Size);
        Assert.Equal(64, big.Resolve().Int!.Value.Bits);
        Assert.False(big.Resolve().Int!.Value.IsSigned);

        Assert.Null(ev.FindMember("nope"));
    }

    [KernelFact]
    public void A_typedef_member_resolves_to_a_two_byte_unsigned_int()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType port = ev.GetMemberType(ev.FindMember("port")!);
        Assert.Equal(BtfKind.Typedef, port.Kind);
        Assert.Equal("port_t", port.Name);
        Assert.Equal("__u16", port.GetReferencedType().Name);
        Assert.Equal(2, port.Size);

        BtfType resolved = port.Resolve();
        Assert.Equal(BtfKind.Int, resolved.Kind);
        Assert.Equal(2, resolved.Size);
        Assert.Equal(16, resolved.Int!.Value.Bits);
        Assert.False(resolved.Int.Value.IsSigned);
        Assert.False(resolved.Int.Value.IsBool);
        Assert.Same(resolved, resolved.Resolve());
    }

    [KernelFact]
    public void A_signed_member_is_signed()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType negative = ev.GetMemberType(ev.FindMember("negative")!).Resolve();
        Assert.Equal(BtfKind.Int, negative.Kind);
        Assert.Equal(4, negative.Size);
        Assert.True(negative.Int!.Value.IsSigned);
        Assert.Equal(32, negative.Int.Value.Bits);
    }

    [KernelFact]
    public void A_char_array_member_is_recognised_with_its_length()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType name = ev.GetMemberType(ev.FindMember("name")!);
        Assert.Equal(BtfKind.Array, name.Kind);
        Assert.True(name.IsCharArray);
        Assert.Equal(12, name.Array!.Value.Length);
        Assert.Equal(12, name.Size);
        BtfType element = name.GetElementType().Resolve();
        Assert.Equal(BtfKind.Int, element.Kind);
        Assert.True(element.Int!.Value.IsChar || element.Int.Value.Bits == 8);
        Assert.Equal("char", element.Name);

        Assert.False(ev.IsCharArray);
        Assert.Throws<InvalidOperationException>(() => ev.GetElementType());
    }

    [KernelFact]
    public void An_enum_member_resolves_to_its_enum_with_names_and_values()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType color = ev.GetMemberType(ev.FindMember("color")!).Resolve();
        Assert.Equal(BtfKind.Enum, color.Kind);
        Assert.Equal("btf_color", color.Name);
        Assert.Equal(4, color.Size);
        Assert.Equal(
            [new BtfEnumValue("COLOR_RED", 1), new BtfEnumValue("COLOR_GREEN", 2), new BtfEnumValue("COLOR_BLUE", 40)],
            color.EnumValues);
        Assert.Equal("COLOR_BLUE", color.GetEnumName(40));
        Assert.Equal("COLOR_RED", color.GetEnumName(1));
        Assert.Null(color.GetEnumName(3));
        Assert.False(color.IsSignedEnum);

        BtfType? byName = obj.Btf.FindType("btf_color", BtfKind.Enum);
        Assert.Same(color, byName);
    }

    [KernelFact]
    public void A_const_volatile_member_resolves_through_both_qualifiers_to_a_four_byte_int()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType qualified = ev.GetMemberType(ev.FindMember("qualified")!);

        var chain = new List<BtfKind>();
        for (BtfType t = qualified; t.ReferencedTypeId != 0; t = t.GetReferencedType())
        {
            chain.Add(t.Kind);
        }

        Assert.Contains(BtfKind.Const, chain);
        Assert.Contains(BtfKind.Volatile, chain);
        BtfType resolved = qualified.Resolve();
        Assert.Equal(BtfKind.Int, resolved.Kind);
        Assert.Equal(4, resolved.Size);
        Assert.Equal(4, qualified.Size);
        Assert.False(resolved.Int!.Value.IsSigned);
    }

    [KernelFact]
    public void Bitfields_have_their_sizes_and_bit_offsets()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfMember low = ev.FindMember("low")!;
        BtfMember high = ev.FindMember("high")!;
        Assert.True(low.IsBitfield);
        Assert.Equal(3, low.BitfieldSize);
        Assert.Equal(5, high.BitfieldSize);

        // Both share the unsigned int after `qualified` (offset 32, 4 bytes): low at bit 0 of it, high right after.
        BtfMember qualified = ev.FindMember("qualified")!;
        Assert.Equal((qualified.Offset + 4) * 8, low.BitOffset);
        Assert.Equal(low.BitOffset + 3, high.BitOffset);
        Assert.Equal(36, low.Offset);
        Assert.Equal(36, high.Offset);
        Assert.Equal(BtfKind.Int, ev.GetMemberType(low).Resolve().Kind);

        // And the next member starts after the byte they occupy, as clang says.
        Span<byte> raw = stackalloc byte[40];
        obj.ReadGlobal("layout", raw);
        Assert.Equal((int)BitConverter.ToUInt32(raw[28..]), ev.FindMember("inner")!.Offset);
        Assert.True(ev.FindMember("inner")!.BitOffset >= high.BitOffset + high.BitfieldSize);

        Assert.All(ev.Members.Where(m => m.Name is not "low" and not "high"), m => Assert.False(m.IsBitfield, m.Name));
    }

    [KernelFact]
    public void A_nested_struct_and_a_byte_array_are_described()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        BtfType ev = obj.Btf!.GetStruct("btf_event");
        BtfType inner = ev.GetMemberType(ev.FindMember("inner")!);
        Assert.Equal(BtfKind.Struct, inner.Kind);
        Assert.Equal("btf_inner", inner.Name);
        Assert.Equal(4, inner.Size);
        Assert.Equal(["x", "y"], inner.Members.Select(m => m.Name));
        Assert.Equal([0, 2], inner.Members.Select(m => m.Offset));
        Assert.All(inner.Members, m => Assert.Equal(2, inner.GetMemberType(m).Size));

        BtfType bytes = ev.GetMemberType(ev.FindMember("bytes")!);
        Assert.Equal(BtfKind.Array, bytes.Kind);
        Assert.Equal(6, bytes.Array!.Value.Length);
        Assert.Equal(6, bytes.Size);
        BtfType element = bytes.GetElementType();
        Assert.Equal("__u8", element.Name);
        Assert.Equal(1, element.Size);
        Assert.False(element.Resolve().Int!.Value.IsSigned);
    }

    [KernelFact]
    public void Globals_are_described_by_their_data_sections()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        Btf btf = obj.Btf!;
        BtfType bss = btf.FindType(".bss", BtfKind.Datasec)!;
        Assert.Equal(["hits", "pgid_hits"], bss.Variables.Select(v => v.Name));
        Assert.Equal([0, 8], bss.Variables.Select(v => v.Offset));
        Assert.All(bss.Variables, v => Assert.Equal(8, v.Size));
        Assert.Equal(16, bss.Size); // libbpf fills in the section size clang leaves at 0
        BtfType rodata = btf.FindType(".rodata", BtfKind.Datasec)!;
        BtfVariable target = Assert.Single(rodata.Variables);
        Assert.Equal("target_tgid", target.Name);
        Assert.Equal(4, btf.GetType(target.TypeId).Size);
    }

    [KernelFact]
    public void Unknown_types_are_null_and_a_missing_struct_error_says_how_to_anchor_it()
    {
        using BpfObject obj = BpfObject.Load(TestObjects.Path("btf_test"));
        Btf btf = obj.Btf!;
        Assert.Null(btf.FindType("nope", BtfKind.Struct));
        Assert.Null(btf.FindType("btf_event", BtfKind.Union));
        Assert.Null(btf.FindType("btf_color", BtfKind.Struct));
        Assert.NotNull(btf.FindType("btf_event", BtfKind.Struct));

        KeyNotFoundException e = Assert.Throws<KeyNotFoundException>(() => btf.GetStruct("nope"));
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
        Assert.Contains("anchor", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("struct nope *", e.Message, StringComparison.Ordinal);

        Assert.Equal(BtfKind.Unknown, btf.GetType(0).Kind);
        Assert.Equal("void", btf.GetType(0).Name);
        Assert.Throws<ArgumentOutOfRangeException>(() => btf.GetType((uint)btf.TypeCount + 10));
    }

    [KernelFact]
    public void The_btf_of_an_open_object_describes_the_same_layout()
    {
        using OpenBpfObject open = OpenBpfObject.OpenFile(TestObjects.Path("btf_test"));
        BtfType ev = open.Btf!.GetStruct("btf_event");
        Assert.Equal(48, ev.Size);
        Assert.Equal(s_memberNames, ev.Members.Select(m => m.Name));
    }
}
