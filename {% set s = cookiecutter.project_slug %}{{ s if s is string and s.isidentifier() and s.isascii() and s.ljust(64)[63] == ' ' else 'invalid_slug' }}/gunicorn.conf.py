"""Gunicorn settings, read at start-up (the Dockerfile passes ``--config gunicorn.conf.py``).

Runtime overrides, from lowest to highest precedence:
  PORT, WEB_CONCURRENCY  environment variables read below; a value out of range stops start-up
                         (Gunicorn itself exits on a non-numeric WEB_CONCURRENCY)
  GUNICORN_CMD_ARGS      any Gunicorn flag, e.g. "--timeout 60 --access-logfile -"
"""

import gc
import os
{%- if cookiecutter.workers == "auto" %}


def available_cpus() -> int:
    """CPUs this process may really use: its affinity mask, capped by a cgroup CPU quota.

    os.cpu_count() reports the host's cores, which over-counts in a CPU-limited container.
    """
    cpus = len(os.sched_getaffinity(0))
    quota_files = [
        ("/sys/fs/cgroup/cpu.max", None),  # cgroup v2: "<quota> <period>" or "max <period>"
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),  # v1
    ]
    for quota_file, period_file in quota_files:
        try:
            with open(quota_file) as file:
                fields = file.read().split()
            if period_file:
                with open(period_file) as file:
                    fields += file.read().split()
        except OSError:
            continue  # not this cgroup version
        if fields[0].isdigit() and int(fields[0]) > 0:  # "max" or -1: no quota
            quota, period = int(fields[0]), int(fields[1])
            cpus = min(cpus, (quota + period - 1) // period)  # a part-CPU counts as one
        break
    return max(cpus, 1)
{%- endif %}


def integer(name: str, default: str, allowed: range) -> int:
    """An integer setting from the environment; refuse what Gunicorn would hang or fail on."""
    raw = os.environ.get(name, default).strip()
    if raw.isascii() and raw.isdigit() and int(raw) in allowed:
        return int(raw)
    raise SystemExit(
        f"gunicorn.conf.py: {name}={raw[:40]!r} is not allowed; "
        f"expected an integer from {allowed.start} to {allowed.stop - 1}"
    )


# 0.0.0.0: listen on every interface, so the port published by Docker reaches Gunicorn.
bind = [f"0.0.0.0:{integer('PORT', '{{ cookiecutter.port }}', range(1024, 65536))}"]
{%- if cookiecutter.workers == "auto" %}
# 2 x the CPUs this container may use + 1, counted at each start; WEB_CONCURRENCY overrides it.
workers = integer("WEB_CONCURRENCY", str(min(2 * available_cpus() + 1, 1000)), range(1, 1001))
{%- else %}
# WEB_CONCURRENCY overrides the worker count chosen when the project was generated.
workers = integer("WEB_CONCURRENCY", "{{ cookiecutter.workers }}", range(1, 1001))
{%- endif %}
worker_class = "{{ cookiecutter.worker_class }}"
{%- if cookiecutter.worker_class == "gthread" %}
threads = {{ cookiecutter.threads }}
{%- endif %}

# Import the app once in the master and fork workers from it: workers share its memory
# pages and start faster.
preload_app = True


def pre_fork(server, worker):
    """Freeze the preloaded objects before each fork, so the workers' garbage collector leaves
    the memory pages they share with the master unwritten, and so still shared."""
    gc.freeze()


# Workers' heartbeat files in memory: a slow or read-only disk cannot stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No control socket: it would need a writable $HOME, and containers are managed with signals.
control_socket_disable = True
# On SIGTERM (docker stop) workers finish in-flight requests for up to this many seconds,
# below Docker's default 10 s stop timeout so shutdown stays clean.
graceful_timeout = 8
