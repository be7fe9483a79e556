#!/bin/bash
# Prints the portability matrix as a Markdown table from the cells' outputs: table.sh RESULTS_DIR CELL...
RESULTS=$1; shift
sets=$(cat "$RESULTS"/*.txt 2>/dev/null | awk '$1 == "variant" {print $2}' | sort -u)
mark() { grep -q "^check $2 PASS" "$1" && echo ok || { grep -q "^check $2 FAIL" "$1" && echo FAIL || echo "-"; }; }
header="| kernel | libbpf | check | /healthz |"; rule="|---|---|---|---|"
for s in $sets; do header+=" $s |"; rule+="---|"; done
header+=" drops | SIGTERM | binding tests | s | cell |"; rule+="---|---|---|---|---|"
echo "$header"; echo "$rule"
for cell in "$@"; do
    f=$RESULTS/$cell.txt
    k=${cell%%-*} v=${cell#*-}
    kr=$(awk '$1 == "kernel" {print $2; exit}' "$f")
    if [ "$k" = host ]; then k="$(uname -r) (host)"; elif [ -n "$kr" ]; then k=$kr; fi
    lv=$(grep -o 'libbpf_version="[^"]*"' "$f" | head -1 | cut -d'"' -f2); [ "$v" != system ] || v="system ${lv}"
    row="| $k | $v | $(mark "$f" bpf-agent-check) | $(mark "$f" healthz) |"
    for s in $sets; do
        var=$(awk -v s="$s" '$1 == "variant" && $2 == s {print $3; exit}' "$f")
        up=$(mark "$f" "set-$s-up"); ev=$(mark "$f" "events-$s")
        if [ -z "$var" ] && [ "$up" = - ]; then row+=" - |"; continue; fi   # not run in this cell (an example)
        row+=" ${var:-?} $([ "$up" = ok ] && [ "$ev" != FAIL ] && echo ok || echo FAIL) |"
    done
    tests=$(awk '$1 == "check" && $2 == "bpf-tests" {$1 = $2 = $3 = ""; print; exit}' "$f" | sed -E 's/^ *//; s/, Total time: ([0-9]+)[.0-9]* Seconds/, in \1 s/; s/, Total time: ([0-9]+\.[0-9])[0-9]* Minutes/, in \1 min/')
    row+=" $(mark "$f" no-drops) | $(mark "$f" sigterm) | $(t=$(mark "$f" bpf-tests); [ "$t" != - ] || { grep -q '^note bpf-tests not run' "$f" && t="not run" || t="no result (cell timed out)"; }; echo "$t") ${tests:+($tests)} | $(awk '$1 == "seconds" {print $2}' "$f") | $(grep -q '^cell PASS' "$f" && echo PASS || echo FAIL) |"
    echo "$row"
done
