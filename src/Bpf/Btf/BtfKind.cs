namespace Bpf;

/// <summary>BTF type kinds (BTF_KIND_*).</summary>
public enum BtfKind
{
    Unknown = 0, Int = 1, Pointer = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Forward = 7,
    Typedef = 8, Volatile = 9, Const = 10, Restrict = 11, Function = 12, FunctionProto = 13, Variable = 14,
    Datasec = 15, Float = 16, DeclTag = 17, TypeTag = 18, Enum64 = 19,
}
