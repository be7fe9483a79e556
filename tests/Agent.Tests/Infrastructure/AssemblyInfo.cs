// Agent processes hook host-wide events and share bpffs: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
