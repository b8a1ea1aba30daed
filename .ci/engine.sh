#!/usr/bin/env bash
# Install and start a Docker engine (Debian's docker.io) unless one already answers, with the
# tools the tests and the benchmark call: debootstrap, wrk, curl, Docker Compose v2, buildx,
# and podman (for `podman kube play`).
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v podman >/dev/null || need+=(podman)
command -v catatonit >/dev/null || need+=(catatonit)
if ((${#need[@]})); then
    apt-get update -qq
    # needrestart's apt hook has nothing to restart here and only warns without a terminal.
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
fi
docker info --format 'Docker engine {{.ServerVersion}} ready' || {
    tail -n 20 /var/log/dockerd.log >&2
    exit 1
}

# Plain `docker build` uses BuildKit (through buildx) only with a 23+ client; docker.io's own
# 20.10 client (/usr/bin/docker) would fall back to the legacy builder.
client=$(docker version --format '{{.Client.Version}}')
((${client%%.*} >= 23)) || {
    echo "docker client $client at $(command -v docker) is too old: put a 23+ client first on PATH" >&2
    exit 1
}

# Docker Compose v2 and buildx: bookworm has only the old Python docker-compose 1.x and no
# buildx, so take trixie's plugin packages (Go binaries that need only libc) through a private
# apt list, leaving the system's untouched.
plugins=()
docker compose version >/dev/null 2>&1 || plugins+=(docker-compose)
docker buildx version >/dev/null 2>&1 || plugins+=(docker-buildx)
if ((${#plugins[@]})); then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    work=$(mktemp -d)
    echo "deb $mirror trixie main" >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root" -qq)
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    apt-get "${apt_opts[@]}" update
    (cd "$work" && apt-get "${apt_opts[@]}" download "${plugins[@]}")
    for pkg in "${plugins[@]}"; do
        dpkg-deb -x "$work/${pkg}"_*.deb "$work/root"
        install -D "$work/root/usr/libexec/docker/cli-plugins/$pkg" "/usr/local/lib/docker/cli-plugins/$pkg"
    done
    rm -rf "$work"
fi
docker compose version
docker buildx version

# Podman as root raises nofile/nproc to limits this machine refuses, so every container would
# fail to start: pin default_ulimits under [containers], replacing any earlier setting.
conf=/etc/containers/containers.conf
mkdir -p "${conf%/*}"
[[ -e $conf ]] || : >"$conf"
awk -v want='default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' '
    skip { if (/]/) skip = 0; next }
    /^[[:space:]]*\[/ {
        print
        if (inside = /^[[:space:]]*\[containers\][[:space:]]*(#.*)?$/) { print want; done = 1 }
        next
    }
    inside && /^[[:space:]]*default_ulimits[[:space:]]*=/ { if (!/]/) skip = 1; next }
    { print }
    END { if (!done) { print "[containers]"; print want } }
' "$conf" >"$conf.new"
if cmp -s "$conf" "$conf.new"; then rm "$conf.new"; else mv "$conf.new" "$conf"; fi
podman info --format 'Podman {{.Version.Version}} ready'
