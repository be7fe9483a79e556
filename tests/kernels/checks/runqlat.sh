# runqlat: every wait of a runnable task for a CPU is one count. 20 short sleeps each wake a new process (its first
# run after fork) and then wake it again when its timer fires, so the count grows by at least 20 (other tasks add
# theirs).
before_runqlat() { RUNQ_BEFORE=$(metric runqueue_latency_seconds_count); }
trigger_runqlat() { for _ in $(seq 20); do sleep 0.01; done; }
verify_runqlat() {
    local n; n=$(( $(metric runqueue_latency_seconds_count) - RUNQ_BEFORE ))
    echo "runqueue_latency_seconds_count +$n (>= 20)"
    [ "$n" -ge 20 ]
}
