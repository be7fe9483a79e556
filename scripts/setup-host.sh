#!/usr/bin/env bash
# Brings a fresh Debian 12 host to the state bpf-agent's build, tests and daemon need:
# the BPF toolchain installed, bpffs and tracefs mounted. Idempotent; prints what it changes.
set -euo pipefail

need_pkgs=()
for pair in clang:clang llvm-strip:llvm bpftool:bpftool pkg-config:pkg-config; do
    cmd=${pair%%:*} pkg=${pair##*:}
    command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
[ -f /usr/include/bpf/libbpf.h ] || need_pkgs+=(libbpf-dev)
[ -f /usr/include/libelf.h ] || need_pkgs+=(libelf-dev)
[ -f /usr/include/zlib.h ] || need_pkgs+=(zlib1g-dev)
# The pci_* label decoders read Debian's PCI names (the tests check they are there).
[ -f /usr/share/misc/pci.ids ] || need_pkgs+=(pci.ids)
# The end-to-end tests scrape the agent with a real Prometheus (make test sets WITH_PROMETHEUS=1).
if [ "${WITH_PROMETHEUS:-0}" = 1 ] && ! command -v promtool >/dev/null 2>&1; then
    need_pkgs+=(prometheus)
fi
# The container tests (make test sets WITH_CONTAINERS=1) run podman and build images with buildah (make image too);
# busybox-static fills their test image, catatonit is podman's pause process for `podman kube play`.
if [ "${WITH_CONTAINERS:-0}" = 1 ]; then
    for pair in podman:podman buildah:buildah runc:runc catatonit:catatonit busybox:busybox-static; do
        cmd=${pair%%:*} pkg=${pair##*:}
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/libexec/podman/$cmd" ] || need_pkgs+=("$pkg")
    done
fi

if ((${#need_pkgs[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing packages ${need_pkgs[*]}; run as root or install them with apt-get" >&2
        exit 1
    fi
    echo "setup: installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends keeps prometheus from pulling in (and starting) node-exporter.
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Debian's package enables a prometheus service on :9090; the tests start their own on a free port.
if [ "${WITH_PROMETHEUS:-0}" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

mount_fs() {
    local type=$1 dir=$2
    if ! grep -qs " $dir $type " /proc/mounts; then
        if [ "$(id -u)" != 0 ]; then
            echo "setup: $type is not mounted at $dir and this is not root; mount it: mount -t $type $type $dir" >&2
            return 0
        fi
        mkdir -p "$dir"
        mount -t "$type" "$type" "$dir"
        echo "setup: mounted $type at $dir"
    fi
}
mount_fs bpf /sys/fs/bpf
mount_fs tracefs /sys/kernel/tracing
