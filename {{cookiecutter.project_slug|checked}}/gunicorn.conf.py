{%- set auto = cookiecutter.workers == "auto" -%}
{%- set database = cookiecutter.database == "postgres" -%}
{%- set metrics = cookiecutter.metrics -%}
"""Gunicorn's settings and hooks, read as it starts: the Dockerfile runs ``gunicorn --config
gunicorn.conf.py``. What they compute is in serving/, one job a module; the environment
variables they read, and what each allows, are in README.md ("Settings").
"""

import gc
import os

from serving import MEMORY, {% if metrics %}metrics, {% endif %}settings
{%- if auto %}
from serving.cpus import auto_workers
{%- endif %}
from serving.logs import ACCESS_FORMAT, Logger, log_format

wsgi_app = "{{ cookiecutter.project_slug }}:create_app()"
PORT = settings.read("PORT", "{{ cookiecutter.port }}", settings.PORTS)
# 0.0.0.0: every interface of the container, so the port Docker publishes reaches Gunicorn.
bind = [f"0.0.0.0:{PORT}"]
if "WEB_CONCURRENCY" in os.environ:
    workers = settings.read("WEB_CONCURRENCY", "", settings.COUNTS["workers"])
    WORKERS_FROM = "WEB_CONCURRENCY"
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
# (database pools, clients) in post_fork (docs/serving.md).
preload_app = True
# Workers' heartbeat files in memory; in the temporary directory where /dev/shm is not writable.
worker_tmp_dir = MEMORY
# No control socket: it would need a writable $HOME, and containers are managed with signals.
control_socket_disable = True
# On SIGTERM (docker stop) workers finish in-flight requests for up to this many seconds,
# below Docker's default 10 s stop timeout so shutdown stays clean.
graceful_timeout = 8

# Logs: Gunicorn's and the app's, one format, one line each, on stdout (serving/logs.py).
logger_class = Logger
LOG_FORMAT = log_format()
loglevel = settings.read("LOG_LEVEL", "info", ["debug", "info", "warning", "error"])
accesslog = "-" if settings.read("ACCESS_LOG", "off", ["on", "off"]) == "on" else None
access_log_format = ACCESS_FORMAT
{%- if metrics %}

# Metrics (docs/metrics.md): set up before the app is imported, served once it listens.
METRICS_PORT = metrics.prepare(PORT)
METRICS_SERVER = None
{%- endif %}


def on_starting(server):
{%- if database %}
    """Check what GUNICORN_CMD_ARGS, applied after this file, may have changed; then bring the
    database to the newest migration, before the server listens or forks a worker."""
    settings.check_counts(server.cfg, workers_from(server.cfg))
    from {{ cookiecutter.project_slug }} import database  # the app's folder is on sys.path by now

    database.migrate(server.log)
{%- else %}
    """GUNICORN_CMD_ARGS applies after this file: check what it may have changed."""
    settings.check_counts(server.cfg, workers_from(server.cfg))
{%- endif %}


def workers_from(cfg) -> str:
    return WORKERS_FROM if cfg.workers == workers else "GUNICORN_CMD_ARGS"


def pre_fork(server, worker):
    """Freeze the preloaded objects before each fork, so the workers' garbage collector leaves
    the memory pages they share with the master unwritten, and so still shared."""
    gc.freeze()


def when_ready(server):
    """One start-up line with the settings in effect, and where the worker count came from{{ ";
    then the metrics' server" if metrics }}."""
    cfg = server.cfg
    threads = f", {cfg.threads} threads each" if cfg.worker_class_str == "gthread" else ""
    server.log.info(
        "Serving %s on %s: %d %s workers (%s)%s; log format %s, access log %s",
        cfg.wsgi_app, " ".join(cfg.bind), cfg.workers, cfg.worker_class_str, workers_from(cfg),
        threads,
        LOG_FORMAT, "on" if cfg.accesslog else "off",
    )  # fmt: skip
{%- if metrics %}
    global METRICS_SERVER
    METRICS_SERVER = metrics.Server(METRICS_PORT, server.log)
    server.log.info("Serving /metrics on 0.0.0.0:%d", METRICS_PORT)


def post_worker_init(worker):
    metrics.instrument(worker.wsgi)


def nworkers_changed(server, new_value, old_value):
    metrics.workers().set(new_value)


def child_exit(server, worker):
    metrics.worker_exited(worker.pid)


def on_exit(server):
    if METRICS_SERVER:
        METRICS_SERVER.stop()
{%- endif %}
