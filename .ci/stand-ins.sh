#!/usr/bin/env bash
# Build stand-ins for the official python:X.Y and python:X.Y-slim images when no registry is reachable.
# Each is a minimal Debian with the distribution's CPython; CI only, users pull the real images.
set -euo pipefail

# The Debian mirror this machine already uses (first URIs line of its apt sources).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
[[ -n $mirror ]] || { echo "no Debian mirror found in apt sources" >&2; exit 1; }

for pair in 3.11:bookworm 3.13:trixie; do
    version=${pair%%:*} suite=${pair##*:}
    if docker image inspect "python:$version" "python:$version-slim" >/dev/null 2>&1; then
        echo "python:$version stand-ins present"
        continue
    fi
    root=$(mktemp -d)
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates \
        "$suite" "$root" "$mirror" >/dev/null
    # Trust this machine's CA bundle so pip inside RUN reaches the package index.
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' \
        - "python:$version" >/dev/null
    docker tag "python:$version" "python:$version-slim"
    rm -rf "$root"
    echo "python:$version stand-ins built from Debian $suite"
done
