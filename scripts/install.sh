#!/usr/bin/env bash
# Installs bpf-agent on this host, or into a staging root.
#
#   scripts/install.sh install      publish the agent, install it, the BPF objects, the config, the unit and
#                                   the service user, then verify the unit (what `make install` runs)
#   scripts/install.sh uninstall    remove what install added; keeps /etc/bpf-agent, the pins and the user
#                                   unless PURGE=1 (then the config and the pins go too)
#   scripts/install.sh verify-unit  `systemd-analyze verify` and `security` on deploy/systemd/bpf-agent.service
#
# Layout: /usr/lib/bpf-agent/ (the published agent, programs/*.bpf.o, bpf-agent-prepare), /usr/bin/bpf-agent (a
# link to the agent), /etc/bpf-agent/
# (agent.json, programs.d/*.json), /usr/lib/systemd/system/bpf-agent.service, /usr/lib/sysusers.d/bpf-agent.conf,
# /usr/share/bpf-agent/schema/, /usr/share/doc/bpf-agent/.
#
# Environment: DESTDIR=/some/dir installs below it (no user is created, nothing is started, files keep the
# invoking user as owner); BPF_OBJECTS=dir (default build/programs); PUBLISH_DIR=dir uses an already
# published agent instead of running `dotnet publish`.
#
# Idempotent. An operator's config file that differs from the shipped one is kept; the new one is put
# beside it as <name>.dist (the agent reads only *.json).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
lib_dir=/usr/lib/bpf-agent
bin_dir=/usr/bin
conf_dir=/etc/bpf-agent
unit_dir=/usr/lib/systemd/system
sysusers_dir=/usr/lib/sysusers.d
share_dir=/usr/share/bpf-agent
doc_dir=/usr/share/doc/bpf-agent
pin_root=/sys/fs/bpf/bpf-agent
service_user=bpf-agent
default_dotnet_root=/usr/share/dotnet
unit_src=deploy/systemd/bpf-agent.service

say() { echo "install: $*"; }
die() {
    echo "install: $*" >&2
    exit 1
}

dotnet_cmd() { DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 dotnet "$@"; }

systemd_running() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# The .NET install the apphost should use: where `dotnet` really lives.
find_dotnet_root() {
    local dotnet
    dotnet=$(command -v dotnet) || die "dotnet is not on PATH; install the .NET 10 SDK (or runtime)"
    dirname "$(readlink -f "$dotnet")"
}

# `systemd-analyze verify` on a unit whose /usr/lib/bpf-agent/ commands may not exist here: they are pointed
# at $2 (a directory holding them, or stand-ins made here). Prints every line it printed; fails on any.
verify_unit() {
    local unit=$1 bin_dir=${2:-} tmp out rc=0
    if [ "$bin_dir" = "$lib_dir" ]; then
        out=$(systemd-analyze verify --man=no "$unit" 2>&1) || rc=$?
        if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
            printf '%s\n' "$out" >&2
            die "systemd-analyze verify $unit: failed (status $rc)"
        fi
        say "systemd-analyze verify $unit: clean"
        return
    fi
    tmp=$(mktemp -d)
    if [ -z "$bin_dir" ]; then
        bin_dir=$tmp/bin
        mkdir -p "$bin_dir"
        printf '#!/bin/sh\n' >"$bin_dir/bpf-agent"
        printf '#!/bin/sh\n' >"$bin_dir/bpf-agent-prepare"
        chmod 0755 "$bin_dir"/*
    fi
    sed "s|$lib_dir/|$bin_dir/|g" "$unit" >"$tmp/bpf-agent.service"
    out=$(cd "$tmp" && systemd-analyze verify --man=no ./bpf-agent.service 2>&1) || rc=$?
    rm -rf "$tmp"
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        die "systemd-analyze verify $unit: failed (status $rc)"
    fi
    say "systemd-analyze verify $unit: clean"
}

security_score() {
    local unit=$1 line
    line=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1 | grep 'Overall exposure level') ||
        die "systemd-analyze security --offline=true $unit printed no exposure level"
    say "systemd-analyze security --offline=true $unit: ${line#*: }"
}

# Writes the shipped config file $1, as installed, to stdout: objects point at $lib_dir/programs/, the schema
# at $share_dir/schema/.
render_config() {
    sed -e "s|\"object\": *\"[^\"]*/\([A-Za-z0-9_.-]*\.bpf\.o\)\"|\"object\": \"$lib_dir/programs/\1\"|" \
        -e "s|\"\\\$schema\": *\"[^\"]*/\([A-Za-z0-9_.-]*\.schema\.json\)\"|\"\$schema\": \"$share_dir/schema/\1\"|" \
        "$1"
}

# Installs a config file without ever overwriting the operator's: a new file goes in place; a differing one
# beside it as .dist.
install_config() {
    local src=$1 dst=$2 tmp
    tmp=$(mktemp)
    render_config "$src" >"$tmp"
    if grep -q '"object": *"\.\.' "$tmp"; then
        rm -f "$tmp"
        die "$src: could not rewrite its \"object\" path to $lib_dir/programs/"
    fi
    if [ ! -e "$dst" ]; then
        install -m 0644 "$tmp" "$dst"
        say "installed $dst"
    elif cmp -s "$tmp" "$dst"; then
        rm -f "$dst.dist"
    else
        install -m 0644 "$tmp" "$dst.dist"
        say "kept your $dst; the shipped version is $dst.dist"
    fi
    rm -f "$tmp"
}

do_install() {
    local dotnet_root publish objects stage
    [ -n "$DESTDIR" ] || [ "$(id -u)" = 0 ] || die "run as root (or set DESTDIR to stage the files elsewhere)"
    command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze is missing (apt-get install systemd)"

    objects=${BPF_OBJECTS:-build/programs}
    compgen -G "$objects/*.bpf.o" >/dev/null || die "no BPF objects in $objects; run \`make bpf\` first"

    dotnet_root=$(find_dotnet_root)
    case $dotnet_root in
        /home/* | /root/* | /run/user/*)
            die "the .NET runtime is in $dotnet_root, which ProtectHome=yes hides from the service; install .NET system-wide (for example /usr/share/dotnet)" ;;
    esac

    publish=${PUBLISH_DIR:-}
    if [ -z "$publish" ]; then
        publish=build/publish/bpf-agent
        rm -rf "$publish"
        say "dotnet publish src/Agent -c Release -o $publish"
        dotnet_cmd publish src/Agent -c Release -o "$publish" --nologo -v quiet >/dev/null
    fi
    [ -x "$publish/bpf-agent" ] || die "$publish/bpf-agent (the apphost) is missing"

    # /usr/lib/bpf-agent: assembled next to its place, then swapped in, so no stale file of an older version stays.
    stage=$DESTDIR$lib_dir.new
    rm -rf "$stage"
    mkdir -p "$(dirname "$stage")"
    cp -R "$publish" "$stage"
    mkdir -p "$stage/programs"
    install -m 0644 "$objects"/*.bpf.o "$stage/programs/"
    install -m 0755 deploy/systemd/bpf-agent-prepare "$stage/bpf-agent-prepare"
    # Not needed to run: IIS's web.config, debug symbols, and the static web asset manifests of the Web SDK
    # (the agent serves no files).
    rm -f "$stage/web.config" "$stage"/*.pdb "$stage"/*.staticwebassets.*json
    rm -rf "$stage/wwwroot"
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -type f ! -name bpf-agent ! -name bpf-agent-prepare -exec chmod 0644 {} +
    chmod 0755 "$stage/bpf-agent"
    if [ -e "$DESTDIR$lib_dir" ]; then
        rm -rf "$DESTDIR$lib_dir.old"
        mv "$DESTDIR$lib_dir" "$DESTDIR$lib_dir.old"
    fi
    mv "$stage" "$DESTDIR$lib_dir"
    rm -rf "$DESTDIR$lib_dir.old"
    say "installed $DESTDIR$lib_dir ($(find "$DESTDIR$lib_dir" -type f | wc -l) files, objects: $(cd "$DESTDIR$lib_dir/programs" && echo *.bpf.o))"

    # On PATH: a relative link, so it points into the same tree when staged under DESTDIR too.
    install -d -m 0755 "$DESTDIR$bin_dir"
    ln -sfn "../lib/bpf-agent/bpf-agent" "$DESTDIR$bin_dir/bpf-agent"
    say "installed $DESTDIR$bin_dir/bpf-agent -> $lib_dir/bpf-agent"

    # The operator's directories keep their owner and mode; new ones are root's, 0755.
    for d in "$DESTDIR$conf_dir" "$DESTDIR$conf_dir/programs.d"; do
        [ -d "$d" ] || install -d -m 0755 "$d"
    done
    install_config config/agent.json "$DESTDIR$conf_dir/agent.json"
    for f in config/programs.d/*.json; do
        install_config "$f" "$DESTDIR$conf_dir/programs.d/$(basename "$f")"
    done

    install -d -m 0755 "$DESTDIR$share_dir/schema" "$DESTDIR$doc_dir"
    install -m 0644 config/schema/*.schema.json "$DESTDIR$share_dir/schema/"
    install -m 0644 README.md "$DESTDIR$doc_dir/README.md"
    install -m 0644 docs/configuration.md "$DESTDIR$doc_dir/configuration.md"

    install -d -m 0755 "$DESTDIR$unit_dir" "$DESTDIR$sysusers_dir"
    sed "s|^Environment=DOTNET_ROOT=.*|Environment=DOTNET_ROOT=$dotnet_root|" "$unit_src" >"$DESTDIR$unit_dir/bpf-agent.service.tmp"
    chmod 0644 "$DESTDIR$unit_dir/bpf-agent.service.tmp"
    mv "$DESTDIR$unit_dir/bpf-agent.service.tmp" "$DESTDIR$unit_dir/bpf-agent.service"
    install -m 0644 deploy/systemd/bpf-agent.sysusers "$DESTDIR$sysusers_dir/bpf-agent.conf"
    say "installed $DESTDIR$unit_dir/bpf-agent.service (DOTNET_ROOT=$dotnet_root) and $DESTDIR$sysusers_dir/bpf-agent.conf"

    if [ -z "$DESTDIR" ]; then
        if ! id -u "$service_user" >/dev/null 2>&1; then
            if command -v systemd-sysusers >/dev/null 2>&1; then
                systemd-sysusers "$sysusers_dir/bpf-agent.conf"
            else
                useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin \
                    --comment "bpf-agent eBPF metrics daemon" "$service_user"
            fi
            say "created the system user $service_user"
        fi
        # Root owns everything installed (the config files too: install(1) as root makes them root's); nothing is
        # writable by group or others.
        chown -R root:root "$lib_dir" "$share_dir" "$doc_dir"
        chown root:root "$unit_dir/bpf-agent.service" "$sysusers_dir/bpf-agent.conf"
        verify_unit "$unit_dir/bpf-agent.service" "$lib_dir"
    else
        verify_unit "$DESTDIR$unit_dir/bpf-agent.service" "$DESTDIR$lib_dir"
    fi
    security_score "$DESTDIR$unit_dir/bpf-agent.service"

    if systemd_running; then
        systemctl daemon-reload
        if systemctl is-active --quiet bpf-agent.service; then
            systemctl restart bpf-agent.service
            say "restarted bpf-agent.service"
        else
            say "start it with: systemctl enable --now bpf-agent.service"
        fi
    elif [ -z "$DESTDIR" ]; then
        say "systemd is not running here; the unit is installed for when it is (check the config: bpf-agent check)"
    fi
}

do_uninstall() {
    [ -n "$DESTDIR" ] || [ "$(id -u)" = 0 ] || die "run as root"
    if systemd_running; then
        systemctl disable --now bpf-agent.service >/dev/null 2>&1 || true
    fi
    rm -rf "$DESTDIR$lib_dir" "$DESTDIR$lib_dir.new" "$DESTDIR$lib_dir.old" "$DESTDIR$share_dir" "$DESTDIR$doc_dir"
    rm -f "$DESTDIR$unit_dir/bpf-agent.service" "$DESTDIR$sysusers_dir/bpf-agent.conf"
    if [ -L "$DESTDIR$bin_dir/bpf-agent" ] && [ "$(readlink "$DESTDIR$bin_dir/bpf-agent")" = "../lib/bpf-agent/bpf-agent" ]; then
        rm -f "$DESTDIR$bin_dir/bpf-agent"
    fi
    if systemd_running; then
        systemctl daemon-reload
    fi
    if [ "${PURGE:-0}" = 1 ]; then
        rm -rf "$DESTDIR$conf_dir"
        if [ -z "$DESTDIR" ]; then
            if [ -d "$pin_root" ] && [ ! -L "$pin_root" ]; then
                rm -rf "$pin_root" # unpins: the maps' state is gone
            fi
            say "removed bpf-agent, its config $conf_dir and its pins $pin_root (the user $service_user is kept)"
        else
            say "removed bpf-agent and its config from $DESTDIR"
        fi
    else
        say "removed bpf-agent; kept $DESTDIR$conf_dir, the pins in $pin_root and the user $service_user (PURGE=1 removes the first two)"
    fi
}

do_verify_unit() {
    command -v systemd-analyze >/dev/null 2>&1 || die "systemd-analyze is missing (apt-get install systemd)"
    verify_unit "$unit_src"
    security_score "$unit_src"
}

case ${1:-install} in
    install) do_install ;;
    uninstall) do_uninstall ;;
    verify-unit) do_verify_unit ;;
    *) die "usage: $0 [install|uninstall|verify-unit]" ;;
esac
