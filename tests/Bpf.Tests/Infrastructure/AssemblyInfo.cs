// Test programs hook process-wide syscalls: run tests one at a time so each sees only its own events.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
