#!/usr/bin/env bash
# `make image`: builds the OCI image bpf-agent:<version> (and :latest) with buildah, from scratch, no registry:
# the agent published for linux-x64, the shared libraries it and libbpf load (copied from this Debian host), the
# shipped BPF objects and program sets, a non-root default user, no shell.
#
#   SELF_CONTAINED=1 (default) the .NET runtime inside the publish output; 0: framework-dependent, with this host's
#                    shared runtime copied to /usr/share/dotnet.
#   IMAGE=name       the image name (default bpf-agent); VERSION=... the tag (default: the agent's version).
#
# Layout in the image (the host layout of scripts/install.sh):
#   /usr/lib/bpf-agent/            the published agent (entrypoint /usr/lib/bpf-agent/bpf-agent), programs/*.bpf.o
#   /etc/bpf-agent/agent.json      listens on 127.0.0.1:9435 unless BPF_AGENT_Agent__Listen says otherwise
#   /etc/bpf-agent/programs.d/     the shipped sets, objects at /usr/lib/bpf-agent/programs/ (a ConfigMap may replace it)
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "image: $*"; }
die() { echo "image: $*" >&2; exit 1; }

command -v buildah >/dev/null 2>&1 || die "buildah is missing (apt-get install buildah, or make setup WITH_CONTAINERS=1)"
compgen -G "build/programs/*.bpf.o" >/dev/null || die "no BPF objects in build/programs; run \`make bpf\` first"

self_contained=${SELF_CONTAINED:-1}
image=${IMAGE:-bpf-agent}
user_id=65532
out=build/image
root=$out/rootfs
publish=build/publish/image-$([ "${SELF_CONTAINED:-1}" = 1 ] && echo self-contained || echo framework-dependent)
lib_dir=/usr/lib/bpf-agent
conf_dir=/etc/bpf-agent
dotnet_cmd() { DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet "$@"; }

version=${VERSION:-$(dotnet_cmd msbuild src/Agent/Agent.csproj -getProperty:Version -p:Configuration=Release | tr -d '[:space:]')}
[ -n "$version" ] || die "could not read the agent's version"

rm -rf "$out" "$publish"
mkdir -p "$root"
if [ "$self_contained" = 1 ]; then
    say "dotnet publish src/Agent -r linux-x64 --self-contained"
    dotnet_cmd publish src/Agent -c Release -r linux-x64 --self-contained -o "$publish" --nologo -v quiet >/dev/null
else
    say "dotnet publish src/Agent (framework-dependent)"
    dotnet_cmd publish src/Agent -c Release -o "$publish" --nologo -v quiet >/dev/null
fi
[ -x "$publish/bpf-agent" ] || die "$publish/bpf-agent (the apphost) is missing"

# The agent and its objects, as scripts/install.sh lays them out on a host (without the systemd helpers).
mkdir -p "$root$lib_dir/programs" "$root$conf_dir/programs.d"
cp -R "$publish"/. "$root$lib_dir/"
rm -f "$root$lib_dir/web.config" "$root$lib_dir"/*.pdb "$root$lib_dir"/*.staticwebassets.*json
rm -rf "$root$lib_dir/wwwroot"
install -m 0644 build/programs/*.bpf.o "$root$lib_dir/programs/"

# Config: the shipped agent.json and sets, objects pointed at the image's programs/ (install.sh's rewrite).
install -m 0644 config/agent.json "$root$conf_dir/agent.json"
sed -i -e '/"\$schema"/d' "$root$conf_dir/agent.json"
for f in config/programs.d/*.json; do
    LIB_DIR=$lib_dir bash deploy/image/render-set.sh "$f" >"$root$conf_dir/programs.d/$(basename "$f")"
done

# Framework-dependent: this host's shared runtime (the apphost finds it through DOTNET_ROOT).
dotnet_root=""
if [ "$self_contained" != 1 ]; then
    dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
    mkdir -p "$root/usr/share/dotnet"
    cp -R "$dotnet_root/host" "$dotnet_root/shared" "$root/usr/share/dotnet/"
fi

# Shared libraries: what ldd names for every native file, plus what is dlopen()ed at run time and so is not in
# any ldd list: libbpf (the binding), libssl/libcrypto (TLS, when /metrics serves it), libgcc_s (unwinding).
libs=()
while IFS= read -r -d '' so; do libs+=("$so"); done < <(find "$root$lib_dir" "$root/usr/share/dotnet" -name '*.so*' -print0 2>/dev/null)
libs+=("$root$lib_dir/bpf-agent")
for extra in libbpf.so.1 libssl.so.3 libcrypto.so.3 libgcc_s.so.1; do
    p=$(ldconfig -p | awk -v n="$extra" '$1 == n && /x86-64/ { print $NF; exit }')
    [ -n "$p" ] || die "$extra is not on this host (apt-get install libbpf1 libssl3)"
    libs+=("$p")
done
copied=0
for f in $( (for l in "${libs[@]}"; do echo "$l"; ldd "$l" 2>/dev/null | awk '/=>/ { print $3 } /^\t\// { print $1 }'; done) | grep '^/' | sort -u); do
    case $f in "$root"/*) continue ;; esac
    for p in "$f" "$(readlink -f "$f")"; do
        if [ ! -e "$root$p" ]; then
            mkdir -p "$root$(dirname "$p")"
            cp -a "$p" "$root$p"
            copied=$((copied + 1))
        fi
    done
done
# Debian's merged /usr: /lib64 and /lib are links into /usr.
for l in lib lib64; do
    if [ -L "/$l" ] && [ -d "$root/$l" ] && [ ! -L "$root/$l" ]; then
        mkdir -p "$root/usr/$l"
        cp -a "$root/$l"/. "$root/usr/$l/"
        rm -rf "${root:?}/$l"
        ln -s "usr/$l" "$root/$l"
    fi
done
say "$copied shared libraries copied from this host"

# The default user (non-root: with its capabilities granted as ambient ones by podman, or run as root where the
# runtime only grants capabilities to root, as Docker and Kubernetes do), and a /tmp nothing needs to write to.
mkdir -p "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/:/usr/sbin/nologin\nbpf-agent:x:%s:%s:bpf-agent:/:/usr/sbin/nologin\n' "$user_id" "$user_id" >"$root/etc/passwd"
printf 'root:x:0:\nbpf-agent:x:%s:\n' "$user_id" >"$root/etc/group"
chmod -R go-w "$root"

say "buildah: bpf-agent:$version from scratch"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet "$ctr" "$root" / >/dev/null
env_args=(--env DOTNET_EnableDiagnostics=0 --env DOTNET_gcServer=0)
[ -n "$dotnet_root" ] && env_args+=(--env DOTNET_ROOT=/usr/share/dotnet)
buildah config "${env_args[@]}" \
    --entrypoint "[\"$lib_dir/bpf-agent\"]" --cmd "[\"--config-dir\", \"$conf_dir\"]" \
    --user "$user_id:$user_id" --workingdir / --port 9435/tcp --stop-signal SIGTERM \
    --label org.opencontainers.image.title=bpf-agent \
    --label org.opencontainers.image.version="$version" \
    --label org.opencontainers.image.description="eBPF programs as Prometheus metrics and logs" \
    "$ctr"
buildah commit --quiet --rm "$ctr" "localhost/$image:$version" >/dev/null
trap - EXIT
buildah tag "localhost/$image:$version" "localhost/$image:latest"
size=$(du -sb "$root" | cut -f1)
say "built localhost/$image:$version (and :latest): $((size / 1024 / 1024)) MiB unpacked, $(find "$root" -type f | wc -l) files, self-contained=$self_contained"
