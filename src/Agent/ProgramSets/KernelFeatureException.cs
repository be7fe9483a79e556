namespace BpfAgent.ProgramSets;

/// <summary>A program set the running kernel cannot run: the message says, in words, what the kernel lacks.</summary>
public sealed class KernelFeatureException(string message) : Exception(message);
