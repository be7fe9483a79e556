#!/usr/bin/env bash
# The portability matrix (issue 15, docs/portability.md): for each kernel (Debian 11's 5.10, Debian 12's 6.1 and
# 6.12 under qemu, and this host's) and each libbpf (the distribution's, 1.5.0, 1.7.0 built from source), run the
# agent's kernel-facing acceptance (tests/kernels/cell.sh) and print one table. Exits non-zero if any cell fails.
# Not part of `make test`. Uses ../shared/portability (qemu-run, libbpf-build); about a minute per cell.
#   KERNELS="5.10 6.1 6.12 host" LIBBPFS="system 1.5.0 1.7.0" scripts/test-kernels.sh [Release]
#   CELLS="6.1-system 5.10-1.7.0" scripts/test-kernels.sh     (chosen cells, in this order)
#   BINDING_CELLS="5.10-system"   cells that also run the binding's tests (default: all; they cost minutes in a guest)
#   GUEST_CPUS=1                  vCPUs of each guest (default 1: see below)
#   BINDING_FILTER='FullyQualifiedName~RingBufferTests'   only these binding tests (vstest's --TestCaseFilter)
#   EXAMPLES="syscall_latency_ring"   sets of config/examples/ run beside the shipped ones in guests (default: that
#                                 one, so the ring version's variants stay proven; EXAMPLES= for none); HOST_EXAMPLES
#                                 the same on the host (default none: see below)
#   CELL_TIMEOUT=1200             seconds a guest cell may take (raise it on a loaded machine)
#   JOBS=2                        cells of different kernels at the same time (default 1; each guest takes GUEST_CPUS)
#   CELL_SCRIPT=starts.sh STARTS=10 CELLS=6.1-system   instead of the acceptance, start the agent STARTS times in a
#                                 row and fail any start that dropped a sample (make test-startups)
set -uo pipefail
configuration=${1:-Release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORTABILITY=${PORTABILITY:-$ROOT/../shared/portability}
[ -x "$PORTABILITY/qemu-run" ] || PORTABILITY=/work/shared/portability
KERNELS=${KERNELS:-5.10 6.1 6.12 host}
LIBBPFS=${LIBBPFS:-system 1.5.0 1.7.0}
CELLS=${CELLS:-$(for k in $KERNELS; do for v in $LIBBPFS; do echo "$k-$v"; done; done)}
LIBBPFS=$(for c in $CELLS; do echo "${c#*-}"; done | sort -u)
BINDING_CELLS=${BINDING_CELLS:-$CELLS}
declare -A KPKG=(
    [5.10]=${KPKG_5_10:-linux-image-5.10.0-46-amd64}
    [6.1]=${KPKG_6_1:-linux-image-6.1.0-57-amd64}
    [6.12]=${KPKG_6_12:-linux-image-6.12.117+deb12-amd64}
)
# vCPUs per guest: one. With two, guests livelocked during the binding's tests (5.10 in four cells of eight, 6.1 with
# libbpf 1.7.0 once): a vCPU spinning at a patched jump in syscall_trace_enter while the tests attached and detached
# syscall tracepoints (docs/portability.md), a cross-CPU code patch that multi-threaded TCG did not pick up, it seems.
GUEST_CPUS=${GUEST_CPUS:-1}
OUT=$ROOT/build/kernels
STAGE=$OUT/stage
RESULTS=$OUT/results
export EXTRA_PKGS=${EXTRA_PKGS:-curl,iproute2}   # the cell needs curl and ip (delete the rootfs cache if it lacks them)
export EXTRA_MODULES=${EXTRA_MODULES:-loop ext4}   # a loop-device disk under /var/tmp for biolatency (cell.sh)
EXAMPLES=${EXAMPLES-syscall_latency_ring}
# On the host the ring example sees every syscall of a shared machine (other sessions' builds and tests): a flood
# its ring is not sized for (2,688 samples dropped by the kernel in one run). The guests are quiet; the host runs both
# of its variants in Agent.Tests (VariantTests) anyway.
HOST_EXAMPLES=${HOST_EXAMPLES-}
CELL_TIMEOUT=${CELL_TIMEOUT:-1200}

# --- stage what a cell needs: the agent, its config and objects, the binding's tests, the runtime, libbpf builds
echo "test-kernels: staging $STAGE" >&2
rm -rf "$STAGE" && mkdir -p "$STAGE"/{config,build,tests/Bpf.Tests,libbpf} "$RESULTS"
DOTNET_ROOT_HOST=$(dirname "$(readlink -f "$(command -v dotnet)")")
# The runtime (hard links where the file system allows), and of the SDK only its vstest console (about 5 MB): the
# cell copies everything into the guest's memory and runs the binding's tests there with that runtime. (Run over
# the 9p share, `dotnet test` hung in the 5.10 and 6.1 guests.)
mkdir -p "$STAGE/dotnet" && for d in dotnet host shared; do cp -al "$DOTNET_ROOT_HOST/$d" "$STAGE/dotnet/" 2>/dev/null || cp -a "$DOTNET_ROOT_HOST/$d" "$STAGE/dotnet/"; done
sdk=$DOTNET_ROOT_HOST/sdk/$(cd "$ROOT" && dotnet --version)
[ -f "$sdk/vstest.console.dll" ] || { echo "test-kernels: no vstest.console.dll in the SDK ($sdk)" >&2; exit 1; }
mkdir -p "$STAGE/vstest" && (cd "$sdk" && cp -a vstest.console.* testhost* Newtonsoft.Json.dll NuGet.Frameworks.dll \
    Microsoft.Extensions.FileSystemGlobbing.dll Microsoft.Extensions.DependencyModel.dll Microsoft.TestPlatform.*.dll Microsoft.VisualStudio.TestPlatform.*.dll Extensions "$STAGE/vstest/")
cp -a "$ROOT/src/Agent/bin/$configuration/net10.0" "$STAGE/agent"
cp -a "$ROOT/config/agent.json" "$ROOT/config/programs.d" "$ROOT/config/examples" "$STAGE/config/"
cp -a "$ROOT/build/programs" "$ROOT/build/bench" "$STAGE/build/"   # bench: a binding test compares a bench object
mkdir -p "$STAGE/build/tests/Bpf.Tests" && cp -a "$ROOT/build/tests/Bpf.Tests/bpf" "$STAGE/build/tests/Bpf.Tests/"
cp -a "$ROOT/tests/Bpf.Tests/bin/$configuration/net10.0" "$STAGE/tests/Bpf.Tests/bin"
touch "$STAGE/Agent.sln"   # the binding's tests find their objects from the directory that holds Agent.sln
cp -a "$ROOT/tests/kernels/cell.sh" "$ROOT/tests/kernels/starts.sh" "$ROOT/tests/kernels/checks" "$STAGE/"
for v in $LIBBPFS; do
    [ "$v" = system ] && continue
    dir=${PORTABILITY_CACHE:-/var/cache/bpf-agent-portability}/libbpf-$v   # built once; libbpf-build rebuilds
    [ -f "$dir/lib64/libbpf.so.1" ] || dir=$("$PORTABILITY/libbpf-build" "$v" 2>/dev/null | tail -1)
    [ -f "$dir/lib64/libbpf.so.1" ] || { echo "test-kernels: libbpf-build $v failed" >&2; exit 1; }
    mkdir -p "$STAGE/libbpf/$v" && cp -a "$dir/lib64" "$STAGE/libbpf/$v/"
done

# --- run the cells
GUEST_STAGE=/root/stage
CACHE=${PORTABILITY_CACHE:-/var/cache/bpf-agent-portability}
# A qemu-run cache of a kernel's own over the shared downloads (kernel, root file system): its initrd, run and
# last-run directories are its own, so cells of different kernels can run at the same time (JOBS). The first boot of a
# kernel (it fills the shared cache) takes the cells' vCPUs too: with qemu-run's default of two, a 6.12 guest oopsed
# there once under TCG (int3 in sched_clock_cpu while the kernel patched its text, the livelock's kind of fault).
own_cache() { # KERNEL_PKG
    local own=$OUT/qemu-cache/$1
    [ -f "$CACHE/kernel/$1/vmlinuz" ] && [ -f "$CACHE/rootfs.cpio" ] || "$PORTABILITY/qemu-run" -k "$1" -c "$GUEST_CPUS" -t 600 -- true >&2
    mkdir -p "$own/kernel/$1" && ln -sfn "$CACHE/rootfs.cpio" "$own/rootfs.cpio"
    for f in x vmlinuz config; do ln -sfn "$CACHE/kernel/$1/$f" "$own/kernel/$1/$f"; done
    echo "$own"
}
run_cell() { # CELL: writes $RESULTS/CELL.txt, its last lines "exit N" and "seconds N"
    local cell=$1 k=${1%%-*} v=${1#*-} t0=$SECONDS tests= lib=system tmp rc
    echo "test-kernels: cell kernel $k, libbpf $v" >&2
    rm -f "$RESULTS/$cell.txt"
    [[ " $(echo $BINDING_CELLS) " != *" $cell "* ]] || tests=1
    if [ "$k" = host ]; then
        tmp=$(mktemp -d /tmp/bpf-agent-cell.XXXXXX)
        (cd "$STAGE" && tar -cf - .) | tar -C "$tmp" -xf -
        [ "$v" = system ] || lib=$tmp/libbpf/$v/lib64
        VSTEST=${tests:+$tmp/vstest} BINDING_FILTER="${BINDING_FILTER:-}" EXAMPLES="$HOST_EXAMPLES" STARTS=${STARTS:-10} bash "$tmp/${CELL_SCRIPT:-cell.sh}" "$tmp" "$lib" 19435 > "$RESULTS/$cell.txt" 2>&1
        rc=$?
        rm -rf "$tmp"
    else
        [ "$v" = system ] || lib=$GUEST_STAGE/libbpf/$v/lib64
        PORTABILITY_CACHE=$(own_cache "${KPKG[$k]}") "$PORTABILITY/qemu-run" -k "${KPKG[$k]}" -c "$GUEST_CPUS" -s "$STAGE" -t "$CELL_TIMEOUT" -- \
            "mkdir -p $GUEST_STAGE && tar -cf - . | tar -C $GUEST_STAGE -xf - && chown -R root:root $GUEST_STAGE && chmod -R go-w $GUEST_STAGE && echo kernel \$(uname -r) && VSTEST=${tests:+$GUEST_STAGE/vstest} BINDING_FILTER='${BINDING_FILTER:-}' GUEST_CONSOLE_TRACES=1 EXAMPLES='$EXAMPLES' STARTS=${STARTS:-10} bash $GUEST_STAGE/${CELL_SCRIPT:-cell.sh} $GUEST_STAGE $lib 9435" \
            > "$RESULTS/$cell.txt" 2>&1
        rc=$?
    fi
    printf 'exit %s\nseconds %s\n' "$rc" "$((SECONDS - t0))" >> "$RESULTS/$cell.txt"
    grep -q '^cell PASS' "$RESULTS/$cell.txt" && [ "$rc" = 0 ] \
        || { echo "test-kernels: cell $cell FAILED (exit $rc); see $RESULTS/$cell.txt" >&2; grep -E '^check .* FAIL' "$RESULTS/$cell.txt" >&2; }
}
# JOBS=1: one cell after another. JOBS>1: one queue per kernel, up to JOBS queues at once (each a guest of GUEST_CPUS vCPUs).
if [ "${JOBS:-1}" -le 1 ]; then
    for cell in $CELLS; do run_cell "$cell"; done
else
    for k in $(for c in $CELLS; do echo "${c%%-*}"; done | awk '!seen[$0]++'); do
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
        (for cell in $CELLS; do [ "${cell%%-*}" != "$k" ] || run_cell "$cell"; done) &
    done
    wait
fi
status=0
for cell in $CELLS; do grep -q '^cell PASS' "$RESULTS/$cell.txt" && grep -q '^exit 0$' "$RESULTS/$cell.txt" || status=1; done

bash "$ROOT/tests/kernels/table.sh" "$RESULTS" $CELLS | tee "$OUT/table.md"
exit $status
