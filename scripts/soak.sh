#!/usr/bin/env bash
# The soak (issue 5, docs/reliability.md): the real agent under a sustained high event rate with a reload cycle
# every SOAK_RELOAD_SECONDS (default 2) for SOAK_SECONDS (default 600), then samples produced, received,
# delivered and dropped by stage, RSS and fds at start and end, and the verdict. It is ReliabilitySoakTests
# (which `make test` runs for 20 s) run long; the report also goes to SOAK_REPORT (build/soak-report.txt).
# The tests' build output is copied first, so rebuilding the tree meanwhile does not pull files from under it.
set -uo pipefail
configuration=${1:-Release}
root=$(cd "$(dirname "$0")/.." && pwd)
export SOAK_SECONDS=${SOAK_SECONDS:-600}
export SOAK_REPORT=${SOAK_REPORT:-$root/build/soak-report.txt}
export CI=true # a kernel test that cannot run fails instead of skipping

copy=$root/build/soak/bin
rm -rf "$copy" "$SOAK_REPORT"
mkdir -p "$copy" "$(dirname "$SOAK_REPORT")"
cp -a "$root/tests/Agent.Tests/bin/$configuration/net10.0/." "$copy/"

echo "soak: ${SOAK_SECONDS} s of load, a reload every ${SOAK_RELOAD_SECONDS:-2} s; report: $SOAK_REPORT"
DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet test "$copy/Agent.Tests.dll" \
    --filter "FullyQualifiedName~ReliabilitySoakTests" --logger "console;verbosity=minimal"
status=$?
if [ -f "$SOAK_REPORT" ]; then
    cat "$SOAK_REPORT"
else
    echo "soak: no report: the run failed before its verdict (see above)" >&2
    status=1
fi
exit $status
