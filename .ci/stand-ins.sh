#!/usr/bin/env bash
# Build stand-ins for the official python:X.Y, python:X.Y-slim and nginx images when no registry
# is reachable. Each is a minimal Debian with the distribution's packages; CI only, users pull
# the real images.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump when what a stand-in holds changes: a present image labelled otherwise is rebuilt.
stand_in=2
bundle=/etc/ssl/certs/ca-certificates.crt

# The Debian mirror this machine already uses (first URIs line of its apt sources).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
[[ -n $mirror ]] || { echo "no Debian mirror found in apt sources" >&2; exit 1; }

# Each stand-in is built by a job of its own, in the background (they mostly wait on the
# mirror); a job's scratch folder is $root, removed when the job ends, however it ends.
root=
job() {
    (
        trap 'if [[ -n $root ]]; then rm -rf --one-file-system "$root"; fi' EXIT
        "$@"
    ) &
    jobs+=($!)
}
jobs=()

# current TAG...: every TAG is present, and is either built by this version of the script or a
# real image (pulled from a registry: it has no label of ours and no PIP_CERT), which stays.
current() {
    local tag config
    for tag; do
        config=$(docker image inspect --format '{{index .Config.Labels "stand-in"}} {{.Config.Env}}' "$tag" 2>/dev/null) ||
            return 1
        [[ $config == "$stand_in "* || ($config != *PIP_CERT=* && $config != [0-9]*) ]] || return 1
    done
}

# bootstrap SUITE PACKAGES: a minbase rootfs in $root.
bootstrap() {
    root=$(mktemp -d)
    debootstrap --variant=minbase --include="$2" "$1" "$root" "$mirror" >/dev/null
    # Trust this machine's CA bundle, so clients inside RUN reach the package index.
    cp "$bundle" "$root$bundle"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

# import_root TAG [--change INSTRUCTION]...: $root as image TAG. pip reads PIP_CERT, uv and most
# other clients SSL_CERT_FILE.
import_root() {
    local tag=$1
    shift
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change "ENV PIP_CERT=$bundle" \
        --change "ENV SSL_CERT_FILE=$bundle" \
        --change "LABEL stand-in=$stand_in" \
        "$@" - "$tag" >/dev/null
}

# python_stand_ins SUITE PACKAGES VERSION...: python:VERSION and python:VERSION-slim for each VERSION,
# all from one rootfs.
python_stand_ins() {
    local suite=$1 packages=$2 version tag tags=() start=$SECONDS
    shift 2
    for version; do tags+=("python:$version" "python:$version-slim"); done
    if current "${tags[@]}"; then
        printf '%s present\n' "${tags[@]}"
        return
    fi
    bootstrap "$suite" "$packages"
    for version; do
        # Several Pythons share the rootfs: python and python3 name this image's.
        if (($# > 1)); then
            ln -sfn "python$version" "$root/usr/bin/python3"
            ln -sfn "python$version" "$root/usr/bin/python"
        fi
        import_root "python:$version" --change 'CMD ["python3"]'
        docker tag "python:$version" "python:$version-slim"
    done
    rm -rf --one-file-system "$root"
    root=
    for tag in "${tags[@]}"; do echo "$tag built from Debian $suite in $((SECONDS - start)) s"; done
}

# uv_stand_in TAG: the static (musl) binary from uv's wheel on PyPI, at / as in uv's own image.
uv_stand_in() {
    local uv_tag=$1
    if current "$uv_tag"; then
        echo "$uv_tag present"
        return
    fi
    root=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$root/wheel" \
        --platform "musllinux_1_1_$(uname -m)" "uv==${uv_tag##*:}"
    python3 -m zipfile -e "$root"/wheel/uv-*.whl "$root/wheel"
    mkdir "$root/image"
    install -m 755 "$root"/wheel/uv-*.data/scripts/uv "$root"/wheel/uv-*.data/scripts/uvx "$root/image/"
    tar -C "$root/image" -c . | docker import --change "LABEL stand-in=$stand_in" \
        --change 'ENTRYPOINT ["/uv"]' - "$uv_tag" >/dev/null
    rm -rf --one-file-system "$root"
    root=
    echo "$uv_tag built from uv's wheel on PyPI"
}

# nginx: sid's package (newer than trixie's), laid out like the official image: its nginx.conf,
# which reads conf.d/ and runs workers as user nginx (uid/gid 101), and logs to stdout/stderr.
nginx_stand_in() {
    local tag=$1 start=$SECONDS version imported
    if current "$tag"; then
        echo "$tag present"
        return
    fi
    bootstrap sid nginx,ca-certificates
    chroot "$root" groupadd --system --gid 101 nginx
    chroot "$root" useradd --system --no-log-init --uid 101 --gid nginx \
        --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nginx
    # Debian's default server would listen beside the mounted config.
    rm -f "$root"/etc/nginx/sites-enabled/*
    mkdir -p "$root/etc/nginx/conf.d"
    cat >"$root/etc/nginx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;

    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
EOF
    mkdir -p "$root/var/log/nginx"
    ln -sfn /dev/stdout "$root/var/log/nginx/access.log"
    ln -sfn /dev/stderr "$root/var/log/nginx/error.log"
    version=$(chroot "$root" dpkg-query -W -f '${Version}' nginx)
    import_root "$tag" --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 80'
    # Engine 20.10 refuses STOPSIGNAL in import's changes: a build adds it, and the import,
    # left untagged, goes.
    imported=$(docker image inspect --format '{{.Id}}' "$tag")
    printf 'FROM %s\nSTOPSIGNAL SIGQUIT\n' "$tag" | docker build -q -t "$tag" - >/dev/null
    docker image rm "$imported" >/dev/null
    rm -rf --one-file-system "$root"
    root=
    echo "$tag built from Debian sid (nginx $version) in $((SECONDS - start)) s"
}

# The images the template names, at the tags it pins.
template='{{cookiecutter.project_slug|checked}}'
uv_tag=$(grep -ho 'ghcr.io/astral-sh/uv:[0-9.]*' "$template/Dockerfile")
nginx_tag=$(grep -ho 'nginx:[0-9][0-9a-z.-]*' "$template"/*compose.yaml*)
job python_stand_ins bookworm python3,python3-venv,python-is-python3,ca-certificates 3.11
job python_stand_ins trixie python3,python3-venv,python-is-python3,ca-certificates 3.13
job python_stand_ins sid python3.14,python3.14-venv,python3.15,python3.15-venv,ca-certificates 3.14 3.15
job uv_stand_in "$uv_tag"
job nginx_stand_in "$nginx_tag"
failed=0
for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
