#!/usr/bin/env bash
# Install and start a Docker engine (Debian's docker.io) unless one already answers, with the
# tools the tests and the benchmark call: debootstrap, wrk, curl, Docker Compose v2.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
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

# Docker Compose v2: bookworm has only the old Python docker-compose 1.x, so take trixie's
# plugin package (a static binary) through a private apt list, leaving the system's untouched.
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! docker compose version >/dev/null 2>&1; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    work=$(mktemp -d)
    echo "deb $mirror trixie main" >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root" -qq)
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    apt-get "${apt_opts[@]}" update
    (cd "$work" && apt-get "${apt_opts[@]}" download docker-compose)
    dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
    install -D "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
    rm -rf "$work"
fi
docker compose version
