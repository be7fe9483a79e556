using BpfAgent.Bench;

// One executable, four roles: the orchestrator (`make bench`) and the children it spawns.
return args.Length > 0 && args[0] == "agent-consume" ? AgentConsumer.Run(new ArgReader(args[1..]))
    : args.Length > 0 && args[0] == "set-consume" ? ProgramSetConsumer.Run(new ArgReader(args[1..]))
    : args.Length > 0 && args[0] == "object-attach" ? ObjectAttacher.Run(new ArgReader(args[1..]))
    : Orchestrator.Run(new ArgReader(args));
