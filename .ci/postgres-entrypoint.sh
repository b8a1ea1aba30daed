#!/usr/bin/env bash
# docker-entrypoint.sh of the postgres stand-in (.ci/stand-ins.sh): the official image's interface,
# in short. On an empty PGDATA: initdb with POSTGRES_USER (postgres) and POSTGRES_PASSWORD,
# POSTGRES_INITDB_ARGS and POSTGRES_INITDB_WALDIR; "host all all all" with
# POSTGRES_HOST_AUTH_METHOD (the server's password_encryption, scram-sha-256, by default); the
# database POSTGRES_DB (the user's name); then /docker-entrypoint-initdb.d/*. Every POSTGRES_X
# above but the last two may come from the file named by POSTGRES_X_FILE (a secret) instead.
# As root: PGDATA is handed to postgres, and the script goes on as that user.
# No -u: init scripts written for the official image are sourced into this shell.
set -Eeo pipefail

# from_file VAR [DEFAULT]: VAR, else the content of the file VAR_FILE names, else DEFAULT.
from_file() {
    local var=$1 file=${1}_FILE value=${2:-}
    if [[ -n ${!var:-} && -n ${!file:-} ]]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file"
        exit 1
    fi
    if [[ -n ${!var:-} ]]; then
        value=${!var}
    elif [[ -n ${!file:-} ]]; then
        value=$(<"${!file}")
    fi
    export "$var=$value"
    unset "$file"
}

# sql_in DATABASE [PSQL ARGUMENT]...: psql on the local socket as the new superuser, stopping at
# the first error.
sql_in() {
    local db=$1
    shift
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
        --no-psqlrc --dbname "$db" "$@"
}
# docker_process_sql [PSQL ARGUMENT]...: the same in POSTGRES_DB, under the official script's
# name, and as "${psql[@]}", for the init scripts (sourced) that call them.
docker_process_sql() { sql_in "$POSTGRES_DB" "$@"; }
# shellcheck disable=SC2034
psql=(docker_process_sql)

# Options alone run the server with them; anything else (psql, bash, postgres --version) just runs.
if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
[[ ${1:-} == postgres ]] || exec "$@"
for arg; do
    case $arg in -'?' | --help | --describe-config | -V | --version) exec "$@" ;; esac
done

from_file POSTGRES_PASSWORD
from_file POSTGRES_USER postgres
from_file POSTGRES_DB "$POSTGRES_USER"
from_file POSTGRES_INITDB_ARGS

mkdir -p "$PGDATA"
# Failures allowed: a mount may refuse, and the server says so itself.
chmod 700 "$PGDATA" || :
mkdir -p /var/run/postgresql || :
chmod 3775 /var/run/postgresql || :
if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    chmod 700 "$POSTGRES_INITDB_WALDIR"
fi
if ((EUID == 0)); then
    find "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"} \
        \! -user postgres -exec chown postgres {} +
    exec gosu postgres "$0" "$@"
fi

if [[ -s $PGDATA/PG_VERSION ]]; then
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    exec "$@"
fi

if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.

       See PostgreSQL documentation about "trust":
       https://www.postgresql.org/docs/current/auth-trust.html
EOF
    exit 1
fi
if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
    printf >&2 'WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust": anyone who reaches port 5432 gets in without a password.\n'
fi

# 18+ keeps PGDATA in /var/lib/postgresql/MAJOR/docker, under the volume: data at the older
# places means an image upgraded without pg_upgrade, and a mount at the old place is lost data.
if [[ $PGDATA == /var/lib/postgresql/$PG_MAJOR/docker ]] && ((PG_MAJOR >= 18)); then
    old=()
    for dir in /var/lib/postgresql /var/lib/postgresql/data /var/lib/postgresql/*/docker; do
        if [[ -s $dir/PG_VERSION ]]; then old+=("$dir"); fi
    done
    if ((${#old[@]} == 0)) && mountpoint -q /var/lib/postgresql/data; then
        old=('/var/lib/postgresql/data (unused mount/volume)')
    fi
    if ((${#old[@]})); then
        cat >&2 <<EOF
Error: in 18+, these Docker images are configured to store database data in a
       format which is compatible with "pg_ctlcluster" (specifically, using
       major-version-specific directory names).

       Counter to that, there appears to be PostgreSQL data in:
         ${old[*]}

       The suggested container configuration for 18+ is to place a single mount
       at /var/lib/postgresql which will then place PostgreSQL data in a
       subdirectory. See https://github.com/docker-library/postgres/pull/1259
EOF
        exit 1
    fi
fi

# Unreadable init scripts fail here, before initdb, not halfway.
ls /docker-entrypoint-initdb.d/ >/dev/null

# initdb wants its user in /etc/passwd: a uid without an entry (--user) gets one from nss_wrapper.
if ! getent passwd "$(id -u)" >/dev/null; then
    LD_PRELOAD=/usr/lib/$(uname -m)-linux-gnu/libnss_wrapper.so
    NSS_WRAPPER_PASSWD=$(mktemp)
    NSS_WRAPPER_GROUP=$(mktemp)
    export LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
    printf 'postgres:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
fi
# eval: POSTGRES_INITDB_ARGS is shell words, quotes and all. --pwfile refuses an empty file.
eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") \
    ${POSTGRES_INITDB_WALDIR:+--waldir "$POSTGRES_INITDB_WALDIR"} '"$POSTGRES_INITDB_ARGS"
if [[ -n ${NSS_WRAPPER_PASSWD:-} ]]; then
    rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
fi

shift # "postgres": what is left are the server's options, for the setup server as well.
method=${POSTGRES_HOST_AUTH_METHOD:-$(postgres -C password_encryption "$@")}
printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

# The setup server listens on the socket only, so nothing connects before the setup is done.
export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
NOTIFY_SOCKET='' PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -w start \
    -o "$(printf '%q ' "$@" -c listen_addresses= -p "${PGPORT:-5432}")"

exists=$(sql_in postgres --tuples-only --set db="$POSTGRES_DB" \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
if [[ -z $exists ]]; then
    sql_in postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
fi

echo
for f in /docker-entrypoint-initdb.d/*; do
    case $f in
        *.sh)
            if [[ -x $f ]]; then
                echo "$0: running $f"
                "$f"
            else
                echo "$0: sourcing $f"
                # shellcheck disable=SC1090
                . "$f"
            fi
            ;;
        *.sql) echo "$0: running $f" && docker_process_sql -f "$f" ;;
        *.sql.gz) echo "$0: running $f" && gunzip -c "$f" | docker_process_sql ;;
        *.sql.xz) echo "$0: running $f" && xzcat "$f" | docker_process_sql ;;
        *.sql.zst) echo "$0: running $f" && zstd -dc "$f" | docker_process_sql ;;
        */\*) ;;
        *) echo "$0: ignoring $f" ;;
    esac
done

PGUSER=${PGUSER:-postgres} pg_ctl -D "$PGDATA" -m fast -w stop
unset PGPASSWORD
printf '\nPostgreSQL init process complete; ready for start up.\n\n'
exec postgres "$@"
