# syscall_latency (the shipped map set: an in-kernel histogram read at scrape): every completed syscall adds one to
# its syscall's _count. The agent's own are left out (ignore_tgid) and other processes add theirs, so 20 execs must
# add at least 20 execve latencies.
before_syscall_latency() { SYSCALL_BEFORE=$(metric syscall_latency_seconds_count 'syscall="execve"'); }
trigger_syscall_latency() { for _ in $(seq 20); do /bin/true; done; }
verify_syscall_latency() {
    local n; n=$(( $(metric syscall_latency_seconds_count 'syscall="execve"') - SYSCALL_BEFORE ))
    echo "syscall_latency_seconds_count{syscall=execve} +$n (>= 20)"
    [ "$n" -ge 20 ]
}
