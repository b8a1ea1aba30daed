"""Run-time settings, read from the environment and checked as the server starts: a value that
Gunicorn or the app would hang, crash or misbehave on stops the start with one line naming the
variable, the value and what is allowed (README.md, "Settings")."""

import os
from pathlib import Path
from typing import NoReturn

# Ports below 1024 need root, and the image runs as an unprivileged user.
PORTS = range(1024, 65536)
# Worker processes, threads per worker (gthread), connections per worker: with 0 of any, the
# server would start and answer nothing.
COUNTS = {
    "workers": range(1, 1001),
    "threads": range(1, 1001),
    "worker_connections": range(1, 100_001),
}
# The memory to allow one worker: several times what one takes of the app as generated, so
# that the app can grow. More workers than the container's memory limit holds would be killed
# by the kernel once they all run.
WORKER_MEMORY = 64 * 2**20


def read(name: str, default: str, allowed: range | list[str]) -> int | str:
    """The variable's value (the default when it is unset): an integer in the range, or one of
    the words; anything else stops the start."""
    raw = os.environ.get(name, default).strip()
    if isinstance(allowed, range):
        if raw.isascii() and raw.isdigit() and int(raw) in allowed:
            return int(raw)
    elif raw in allowed:
        return raw
    refuse(f"{name}={raw[:40]!r}", allowed)


def from_file(name: str) -> str:
    """The content of the file the variable names (a secret), as the official database images
    read their own *_FILE secrets: whole, without the line ends at its end. A file that cannot
    be read, or holds nothing, stops the start."""
    path = os.environ[name]
    try:
        content = Path(path).read_text("utf-8").rstrip("\n")
    except OSError as error:
        refuse(f"{name}={path[:80]!r}", f"a file this user can read ({error.strerror})")
    except UnicodeDecodeError:
        refuse(f"{name}={path[:80]!r}", "a file of UTF-8 text")
    if not content:
        refuse(f"{name}={path[:80]!r}", "a file that is not empty")
    return content


def refuse(what: str, allowed: range | list[str] | str) -> NoReturn:
    """Stop with one line: what was given, and what is allowed."""
    if isinstance(allowed, range):
        allowed = f"an integer from {allowed.start} to {allowed.stop - 1}"
    elif isinstance(allowed, list):
        allowed = "one of " + ", ".join(allowed)
    raise SystemExit(f"error: {what} is not allowed; expected {allowed}")


def check_counts(cfg, workers_from: str) -> None:
    """Gunicorn's counts as GUNICORN_CMD_ARGS, applied after gunicorn.conf.py, left them; and
    the workers against the container's memory limit."""
    for name, allowed in COUNTS.items():
        if (value := getattr(cfg, name)) not in allowed:
            refuse(f"{name}={value} (GUNICORN_CMD_ARGS)", allowed)
    limit = memory_limit()
    if limit and cfg.workers > (most := max(limit // WORKER_MEMORY, 1)):
        what = f"{cfg.workers} workers ({workers_from})"
        if workers_from == "WEB_CONCURRENCY":
            what = f"WEB_CONCURRENCY={cfg.workers}"
        room = f"{limit // 2**20} MiB, {WORKER_MEMORY // 2**20} MiB a worker"
        refuse(what, f"at most {most} in the container's memory limit ({room})")


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
