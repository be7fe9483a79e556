#!/usr/bin/env bash
# Prints the shipped program set $1 as the image (and the Kubernetes ConfigMap) carry it: its "object" pointed at
# /usr/lib/bpf-agent/programs/, without the "$schema" line (the schema is not in the image). Fails when the object
# path could not be rewritten.
set -euo pipefail
lib_dir=${LIB_DIR:-/usr/lib/bpf-agent}
out=$(sed -e "s|\"object\": *\"[^\"]*/\([A-Za-z0-9_.-]*\.bpf\.o\)\"|\"object\": \"$lib_dir/programs/\1\"|" -e '/"\$schema"/d' "$1")
grep -q "\"object\": \"$lib_dir/programs/" <<<"$out" || { echo "$1: could not rewrite its \"object\" path to $lib_dir/programs/" >&2; exit 1; }
printf '%s\n' "$out"
