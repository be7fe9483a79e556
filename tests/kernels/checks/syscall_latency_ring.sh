# syscall_latency_ring (config/examples/syscall_latency_ring.json, run beside the shipped sets when the matrix is
# asked to: its task_storage and hash variants): one ring sample per completed syscall, aggregated by the agent.
# As for the map set, 20 execs must add at least 20 execve latencies.
before_syscall_latency_ring() { RING_BEFORE=$(metric syscall_latency_ring_seconds_count 'syscall="execve"'); }
trigger_syscall_latency_ring() { for _ in $(seq 20); do /bin/true; done; }
verify_syscall_latency_ring() {
    local n; n=$(( $(metric syscall_latency_ring_seconds_count 'syscall="execve"') - RING_BEFORE ))
    echo "syscall_latency_ring_seconds_count{syscall=execve} +$n (>= 20)"
    [ "$n" -ge 20 ]
}
