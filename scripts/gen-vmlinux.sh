#!/usr/bin/env bash
# Generates vmlinux.h (every kernel type, for CO-RE) from the running kernel's BTF.
set -euo pipefail
out=$1
btf=/sys/kernel/btf/vmlinux
if [ ! -r "$btf" ]; then
    echo "error: $btf is missing: this kernel was built without BTF (CONFIG_DEBUG_INFO_BTF=y)." >&2
    echo "       bpf-agent needs a kernel with BTF for CO-RE; use a distribution kernel 5.8 or newer." >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
