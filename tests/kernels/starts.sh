#!/bin/bash
# Starts in a row (issue 10: nothing lost at startup on a slow machine): the agent with the shipped sets, started
# STARTS times on the running kernel (under qemu, ~10x slower than the host), each run left 5 s after it is healthy,
# then its drops by stage read and SIGTERM sent. Same interface as cell.sh (scripts/test-kernels.sh CELL_SCRIPT=starts.sh):
#   starts.sh STAGE LIBBPF_DIR|system PORT      (STARTS, default 10, from the environment)
set -uo pipefail
STAGE=$1 LIBBPF=$2 PORT=${3:-9435} STARTS=${STARTS:-10}
cd "$STAGE" || exit 2
export DOTNET_ROOT=$STAGE/dotnet PATH=$STAGE/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
[ "$LIBBPF" = system ] || export LD_LIBRARY_PATH=$LIBBPF
URL=http://127.0.0.1:$PORT
ip link set lo up 2>/dev/null || true
mkdir -p /sys/fs/bpf && { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }
FAILED=0
for i in $(seq 1 "$STARTS"); do
    dotnet "$STAGE/agent/bpf-agent.dll" --config-dir "$STAGE/config" "--Agent:Listen=$URL" "--Agent:PinRoot=/sys/fs/bpf/bpf-agent-starts" \
        --Agent:KeepPinsOnExit=false --Agent:WatchConfigDirectory=false > "agent-$i.log" 2>&1 &
    pid=$!
    t0=$SECONDS
    until curl -fsS --max-time 5 "$URL/healthz" >/dev/null 2>&1; do
        [ $((SECONDS - t0)) -lt 120 ] || break
        sleep 0.5
    done
    healthy=$((SECONDS - t0))
    sleep 5
    metrics=$(curl -fsS --max-time 20 "$URL/metrics" 2>/dev/null)
    dropped=$(awk '$1 ~ /^bpf_agent_samples_dropped_total/ { s += $NF } END { printf "%.0f", s }' <<<"$metrics")
    received=$(awk '$1 ~ /^bpf_agent_ring_samples_received_total/ { s += $NF } END { printf "%.0f", s }' <<<"$metrics")
    stages=$(grep '^bpf_agent_samples_dropped_total' <<<"$metrics" | awk '$NF != 0 { print $1 "=" $NF }' | tr '\n' ' ')
    kill -TERM "$pid"; wait "$pid"; rc=$?
    ok=1; [ -n "$metrics" ] && [ "$dropped" = 0 ] && [ "$rc" = 0 ] && ok=0
    [ $ok = 0 ] || FAILED=1
    echo "check start-$i $([ $ok = 0 ] && echo PASS || echo FAIL) healthy after ${healthy} s, received $received, dropped $dropped ${stages}exit $rc"
done
[ $FAILED = 0 ] && echo "cell PASS" || echo "cell FAIL"
exit $FAILED
