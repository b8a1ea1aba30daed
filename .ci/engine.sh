#!/usr/bin/env bash
# Install and start a Docker engine (Debian's docker.io) unless one already answers, with the
# tools the tests and the benchmark call: debootstrap, wrk, curl, testssl.sh, Docker Compose v2,
# buildx, podman (for `podman kube play`), and setcap and openssl for the stand-ins.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v podman >/dev/null || need+=(podman)
command -v catatonit >/dev/null || need+=(catatonit)
# A TLS scanner, for the HTTPS edge's test.
command -v testssl >/dev/null || need+=(testssl.sh)
# For the stand-ins: Caddy's file capability, and pebble's certificates.
command -v setcap >/dev/null || need+=(libcap2-bin)
command -v openssl >/dev/null || need+=(openssl)
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

# From trixie, through a private apt list that leaves the system's untouched: a 23+ docker
# client, since only such a client's plain `docker build` uses BuildKit (docker.io's own 20.10
# client falls back to the legacy builder); Docker Compose v2 and buildx, which bookworm lacks.
# All three are Go binaries that need only libc.
packages=()
client=$(docker version --format '{{.Client.Version}}')
((${client%%.*} >= 23)) || packages+=(docker-cli)
docker compose version >/dev/null 2>&1 || packages+=(docker-compose)
docker buildx version >/dev/null 2>&1 || packages+=(docker-buildx)
if ((${#packages[@]})); then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    work=$(mktemp -d)
    echo "deb $mirror trixie main" >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root" -qq)
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    apt-get "${apt_opts[@]}" update
    (cd "$work" && apt-get "${apt_opts[@]}" download "${packages[@]}")
    for pkg in "${packages[@]}"; do
        dpkg-deb -x "$work/${pkg}"_*.deb "$work/root"
        if [[ $pkg == docker-cli ]]; then
            install -D "$work/root/usr/bin/docker" /usr/local/bin/docker  # before /usr/bin on PATH
        else
            install -D "$work/root/usr/libexec/docker/cli-plugins/$pkg" "/usr/local/lib/docker/cli-plugins/$pkg"
        fi
    done
    rm -rf "$work"
    hash -r
fi
echo "docker client $(docker version --format '{{.Client.Version}}')"
docker compose version
docker buildx version

# Podman as root raises nofile/nproc to limits this machine refuses, so every container would
# fail to start: set its defaults in a drop-in file of containers.conf.
mkdir -p /etc/containers/containers.conf.d
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' \
    >/etc/containers/containers.conf.d/ci-ulimits.conf
podman info --format 'Podman {{.Version.Version}} ready'
