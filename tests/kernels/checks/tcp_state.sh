# tcp_state: 10 loopback connections to the agent itself; each one changes the state of its client socket at least
# twice (SYN_SENT, ESTABLISHED) and of its server socket at least once, so at least 30 changes.
before_tcp_state() { TCP_BEFORE=$(metric tcp_state_changes_total); }
trigger_tcp_state() { for _ in $(seq 10); do curl -fsS --max-time 5 -o /dev/null "$URL/healthz"; done; }
verify_tcp_state() {
    local n; n=$(( $(metric tcp_state_changes_total) - TCP_BEFORE ))
    echo "tcp_state_changes_total +$n (>= 30)"
    [ "$n" -ge 30 ]
}
