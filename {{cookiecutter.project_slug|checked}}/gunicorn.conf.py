{%- set auto = cookiecutter.workers == "auto" -%}
{%- set database = cookiecutter.database == "postgres" -%}
{%- set metrics = cookiecutter.metrics -%}
"""Gunicorn settings, read at start-up: the Dockerfile runs ``gunicorn --config gunicorn.conf.py``.

Environment variables read here; a value out of range stops start-up with one line (Gunicorn
reads WEB_CONCURRENCY first, and stops with a traceback on one that is not a number):
  PORT                 port to listen on ({{ cookiecutter.port }})
  WEB_CONCURRENCY      worker processes, 1-1000 ({{ "2 x usable CPUs + 1, within the memory limit" if auto else cookiecutter.workers }})
  LOG_FORMAT           text or json (text)
  LOG_LEVEL            debug, info, warning or error (info)
  ACCESS_LOG           on or off (off: a line per request costs throughput; a proxy logs them)
  FORWARDED_ALLOW_IPS  peers whose X-Forwarded-* headers are believed (127.0.0.1,::1)
{%- if metrics %}
  METRICS_PORT         port of /metrics, for Prometheus (9464)
{%- endif %}
  GUNICORN_CMD_ARGS    any other Gunicorn flag, applied after this file
{%- if database %}
The database's settings are read by {{ cookiecutter.project_slug }}/database.py.
{%- endif %}
"""

import gc
import json
import logging
import os
{%- if metrics %}
import subprocess
{%- endif %}
import sys
from datetime import UTC, datetime
{%- if auto or metrics %}
from pathlib import Path
{%- endif %}

from flask import has_request_context, request
from gunicorn import glogging


def setting(name: str, default: str, allowed: range | list[str]):
    """A setting from the environment; what Gunicorn would hang or crash on stops it here."""
    raw = os.environ.get(name, default).strip()
    if isinstance(allowed, range):
        if raw.isascii() and raw.isdigit() and int(raw) in allowed:
            return int(raw)
    elif raw in allowed:
        return raw
    refuse(f"{name}={raw[:40]!r}", allowed)


def refuse(what: str, allowed: range | list[str]):
    if isinstance(allowed, range):
        expected = f"an integer from {allowed.start} to {allowed.stop - 1}"
    else:
        expected = "one of " + ", ".join(allowed)
    raise SystemExit(f"gunicorn.conf.py: {what} is not allowed; expected {expected}")


# Worker processes, threads per worker (gthread), connections per worker: with 0 of any, the
# server would start and answer nothing.
COUNTS = {
    "workers": range(1, 1001),
    "threads": range(1, 1001),
    "worker_connections": range(1, 100_001),
}
{%- if auto %}


# The memory to allow one worker: several times what one takes of the app as generated, so
# that the app can grow.
WORKER_MEMORY = 64 * 2**20


def usable_cpus() -> int:
    """CPUs this process may really use: its affinity mask, capped by a cgroup CPU quota.

    os.cpu_count() reports the host's cores, which over-counts in a CPU-limited container.
    """
    cpus = len(os.sched_getaffinity(0))
    fields = read_cgroup("cpu.max", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")
    if fields and fields[0].isdigit() and int(fields[0]) > 0:  # "max" or -1: no quota
        quota, period = int(fields[0]), int(fields[1])
        cpus = min(cpus, -(-quota // period))  # a part of a CPU counts as one
    return max(cpus, 1)


def memory_limit() -> int | None:
    """The container's memory limit in bytes, or None without one."""
    fields = read_cgroup("memory.max", "memory/memory.limit_in_bytes")
    limit = int(fields[0]) if fields and fields[0].isdigit() else None
    return limit if limit and limit < 2**60 else None  # cgroup v1 shows "no limit" as ~2**63


def read_cgroup(v2: str, *v1: str) -> list[str]:
    """The fields of a cgroup v2 file, or of the v1 files; empty when neither exists."""
    for names in ([v2], v1):
        try:
            return [f for name in names for f in Path("/sys/fs/cgroup", name).read_text().split()]
        except OSError:
            continue
    return []


def auto_workers() -> tuple[int, str]:
    """2 x usable CPUs + 1, Gunicorn's rule of thumb, fewer when memory is too small for them."""
    cpus = usable_cpus()
    count, reason = 2 * cpus + 1, f"auto: 2 x {cpus} CPUs + 1"
    limit = memory_limit()
    if limit and limit // WORKER_MEMORY < count:
        count = max(limit // WORKER_MEMORY, 1)
        reason += f", capped at {WORKER_MEMORY // 2**20} MiB each by the {limit // 2**20} MiB limit"
    return min(count, 1000), reason
{%- endif %}


wsgi_app = "{{ cookiecutter.project_slug }}:create_app()"
# A folder in memory, where a slow or read-only disk cannot stall what is written to it.
MEMORY = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
PORTS = range(1024, 65536)
PORT = setting("PORT", "{{ cookiecutter.port }}", PORTS)
{%- if metrics %}
# Metrics (README.md, "Metrics"): each worker writes its samples to files in memory, and a
# process of their own, started below, answers /metrics on METRICS_PORT with all of them
# (prometheus_client's multiprocess mode).
METRICS_PORT = setting("METRICS_PORT", "9464", PORTS)
if METRICS_PORT == PORT:
    raise SystemExit(
        f"gunicorn.conf.py: METRICS_PORT={PORT} is not allowed; expected another port than PORT's"
    )
METRICS_DIR = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"{MEMORY or '/tmp'}/prometheus")
)
METRICS_DIR.mkdir(parents=True, exist_ok=True)
# Samples of an earlier run of this container are not this one's: removed before the app writes
# any. (Gunicorn reads this file again on SIGHUP, when the live workers' samples must stay.)
if "prometheus_client" not in sys.modules:
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()
{%- endif %}
# 0.0.0.0: every interface of the container, so the port Docker publishes reaches Gunicorn.
bind = [f"0.0.0.0:{PORT}"]
if "WEB_CONCURRENCY" in os.environ:
    workers, WORKERS_FROM = setting("WEB_CONCURRENCY", "", COUNTS["workers"]), "WEB_CONCURRENCY"
else:
{%- if auto %}
    workers, WORKERS_FROM = auto_workers()
{%- else %}
    workers, WORKERS_FROM = {{ cookiecutter.workers }}, "chosen when the project was generated"
{%- endif %}
worker_class = "{{ cookiecutter.worker_class }}"
{%- if cookiecutter.worker_class == "gthread" %}
threads = {{ cookiecutter.threads }}
{%- endif %}

# Import the app once in the master and fork the workers from it: they share its memory and
# start faster. Anything opened at import time is shared too: open per-worker resources
# (database pools, clients) in post_fork (README.md, "Workers").
preload_app = True


def on_starting(server):
{%- if database %}
    """Check what GUNICORN_CMD_ARGS, applied after this file, may have changed; then bring the
    database to the newest migration, before the server listens or forks a worker."""
{%- else %}
    """GUNICORN_CMD_ARGS applies after this file: check what it may have changed."""
{%- endif %}
    for name, allowed in COUNTS.items():
        value = getattr(server.cfg, name)
        if value not in allowed:
            refuse(f"{name}={value} (GUNICORN_CMD_ARGS)", allowed)
{%- if database %}
    from {{ cookiecutter.project_slug }} import database  # the app's folder is on sys.path by now

    database.migrate(server.log)
{%- endif %}
{%- if metrics %}


def nworkers_changed(server, new_value, old_value):
    from {{ cookiecutter.project_slug }}.metrics import WORKERS

    WORKERS.set(new_value)


def child_exit(server, worker):
    """A worker that ended, however it ended: its requests still count, its gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if METRICS_SERVER:
        METRICS_SERVER.terminate()
{%- endif %}


def pre_fork(server, worker):
    """Freeze the preloaded objects before each fork, so the workers' garbage collector leaves
    the memory pages they share with the master unwritten, and so still shared."""
    gc.freeze()


# Workers' heartbeat files in memory; in the temporary directory where /dev/shm is not writable.
worker_tmp_dir = MEMORY
# No control socket: it would need a writable $HOME, and containers are managed with signals.
control_socket_disable = True
# On SIGTERM (docker stop) workers finish in-flight requests for up to this many seconds,
# below Docker's default 10 s stop timeout so shutdown stays clean.
graceful_timeout = 8

# Logs: Gunicorn's and the app's, one format, one line each, on stdout.
LOG_FORMAT = setting("LOG_FORMAT", "text", ["text", "json"])
loglevel = setting("LOG_LEVEL", "info", ["debug", "info", "warning", "error"])
accesslog = "-" if setting("ACCESS_LOG", "off", ["on", "off"]) == "on" else None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'


# The request's fields in JSON access lines, from Gunicorn's access log atoms.
ACCESS_FIELDS = {"h": "client", "m": "method", "U": "path", "q": "query", "s": "status",
                 "B": "bytes", "M": "duration_ms", "a": "user_agent",
                 "{x-request-id}o": "request_id"}  # fmt: skip


class RequestId(logging.Filter):
    """The ID of the request a line is logged for (request_ids.py), or None outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (
            request.environ.get("HTTP_X_REQUEST_ID") if has_request_context() else None
        )
        record.request_suffix = f" request_id={record.request_id}" if record.request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines also carry the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.request_id:
            entry["request_id"] = record.request_id
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry |= {field: record.args[atom] for atom, field in ACCESS_FIELDS.items()}
            entry["status"] = int(entry["status"])
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class Logger(glogging.Logger):
    """Gunicorn's logger, sending Gunicorn's lines and the app's to stdout in one format."""

    def setup(self, cfg):
        super().setup(cfg)
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(RequestId())
        if LOG_FORMAT == "json":
            handler.setFormatter(JsonFormatter())
        else:
            text = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s%(request_suffix)s"
            handler.setFormatter(logging.Formatter(text))
        for log in (self.error_log, self.access_log, logging.getLogger()):
            log.handlers[:] = [handler]
        logging.getLogger().setLevel(self.loglevel)
        logging.captureWarnings(True)


logger_class = Logger


{%- if metrics %}
METRICS_SERVER = None  # the metrics' server, once started
{%- endif %}


def when_ready(server):
    """One start-up line with the settings in effect, and where the worker count came from{{ ";
    then the metrics' server, before the workers are forked" if metrics }}."""
    cfg = server.cfg
    source = WORKERS_FROM if cfg.workers == workers else "GUNICORN_CMD_ARGS"
    threads = f", {cfg.threads} threads each" if cfg.worker_class_str == "gthread" else ""
    server.log.info(
        "Serving %s on %s: %d %s workers (%s)%s; log format %s, access log %s",
        cfg.wsgi_app, " ".join(cfg.bind), cfg.workers, cfg.worker_class_str, source, threads,
        LOG_FORMAT, "on" if cfg.accesslog else "off",
    )  # fmt: skip
{%- if metrics %}
    global METRICS_SERVER
    serve = Path(__file__).parent / "{{ cookiecutter.project_slug }}" / "metrics.py"
    METRICS_SERVER = subprocess.Popen([sys.executable, str(serve), str(METRICS_PORT)])
    server.log.info("Serving /metrics on 0.0.0.0:%d", METRICS_PORT)
{%- endif %}
