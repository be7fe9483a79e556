# exec: every exec is one sample; 20 runs of a program with a unique comm count exactly 20.
EXEC_PROBE=/tmp/bpfcell_probe
before_exec() { cp /bin/true "$EXEC_PROBE"; EXEC_BEFORE=$(metric exec_events_total 'comm="bpfcell_probe"'); }
trigger_exec() { for _ in $(seq 20); do "$EXEC_PROBE"; done; }
verify_exec() {
    local n; n=$(( $(metric exec_events_total 'comm="bpfcell_probe"') - EXEC_BEFORE ))
    echo "exec_events_total{comm=bpfcell_probe} +$n of 20"
    [ "$n" = 20 ]
}
