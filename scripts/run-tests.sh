#!/usr/bin/env bash
# Runs every test project and ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
configuration=${1:-Release}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

status=0
for proj in tests/*/*.Tests.csproj; do
    name=$(basename "$proj" .csproj)
    echo "== $name"
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet test "$proj" -c "$configuration" --no-build \
        --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
        --logger "console;verbosity=normal" || status=1
done

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    p=$(get passed) f=$(get failed) e=$(get error) t=$(get total) x=$(get executed)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0} + ${e:-0}))
    skipped=$((skipped + ${t:-0} - ${x:-0}))
done
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "no test ran" >&2
    status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
