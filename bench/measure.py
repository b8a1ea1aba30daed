"""What the benchmark reads: wrk loads, memory from /proc, TIME_WAIT sockets, cold starts, and
timed BuildKit builds."""

import http.client
import os
import re
import ssl
import tempfile
import time
import urllib.request
from pathlib import Path

import helpers
from helpers import MESSAGE, children, run

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# Past about half the ephemeral port range in TIME_WAIT towards one address (Linux hands the
# even ports to connect() first), new connections to that address stall: the load then
# measures the kernel's port search, not the server.
PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
PORT_LIMIT = (int(PORTS[1]) - int(PORTS[0]) + 1) // 2


def wrk(url: str, seconds: float, close: bool, netns: int | None = None, script: str = "",
        host: str = "") -> dict:  # fmt: skip
    """One wrk load on url; close: a new connection per request. netns: run wrk in the network
    namespace of that pid (a container's loopback, no docker-proxy). script: wrk's Lua, for a
    request other than a GET. host: a name for url's 127.0.0.1, sent as the server name (SNI)
    and Host: wrk runs with an /etc/hosts of its own that maps it, in a mount namespace of its
    own."""
    command = ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency"]
    command += ["-H", "Connection: close"] if close else []
    folder = Path(tempfile.mkdtemp())
    if script:
        (folder / "request.lua").write_text(script)
        command += ["-s", str(folder / "request.lua")]
    command.append(url.replace("127.0.0.1", host) if host else url)
    if host:
        (folder / "hosts").write_text(f"127.0.0.1 {host}\n")
        mount = f'mount --bind {folder / "hosts"} /etc/hosts && exec "$@"'
        command = ["unshare", "--mount", "sh", "-c", mount, "wrk", *command]
    command = ["nsenter", "-t", str(netns), "-n", *command] if netns else command
    out = run(*command, timeout=seconds + 60).stdout

    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)$", out, re.MULTILINE)
        if not found:
            raise RuntimeError(f"wrk answered no latencies: {out.strip()[-300:]}")
        value, unit = found.groups()
        return float(value) * UNITS_MS[unit]

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out)[1])
    ok = requests - (int(non_2xx[1]) if non_2xx else 0)
    return {
        # Of 2xx responses only: a proxy's quick 502s are not throughput.
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]) * ok / max(requests, 1),
        "requests": requests,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
    }


def memory(master: int) -> dict:
    """RSS and PSS of Gunicorn's master and workers (host pids), and each worker's PSS and private
    memory (what one more worker costs: its share of what it maps, and what it alone maps)."""

    def rollup(pid: int) -> dict[str, int]:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        return {line.split(":")[0]: int(line.split()[1]) for line in lines}  # kB

    workers = [rollup(pid) for pid in children(master)]
    every = [rollup(master), *workers]
    return {
        "pss_mib": sum(p["Pss"] for p in every) / 1024,
        "rss_mib": sum(p["Rss"] for p in every) / 1024,
        "worker_pss_mib": [p["Pss"] / 1024 for p in workers],
        "worker_private_mib": [(p["Private_Clean"] + p["Private_Dirty"]) / 1024 for p in workers],
    }


def pid(container: str) -> int:
    """A container's first process, as a host pid."""
    return int(run("docker", "inspect", "--format", "{{.State.Pid}}", container).stdout)


def cpu_seconds(master: int) -> float:
    """CPU time (user and system) Gunicorn's master and workers have used so far."""
    ticks = 0
    for process in (master, *children(master)):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def time_wait(filter_: str, netns: int | None = None) -> int:
    """Sockets in TIME_WAIT matching an ss filter, on the host or in a pid's namespace."""
    command = ["ss", "-Htan", "state", "time-wait", *filter_.split()]
    command = ["nsenter", "-t", str(netns), "-n", *command] if netns else command
    return len(run(*command).stdout.splitlines())


# The HTTPS edge's certificate is pebble's, whose root is made at each start: not checked here.
UNCHECKED = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ssl._create_unverified_context()),
)


def cold_start(url: str, started: float, timeout: float = 60, host: str = "") -> float:
    """Seconds from `started` to the first 200 with the app's message. Polled every 10 ms (the
    start takes about half a second); only after `docker run` returned, since a connection
    tried before the container's network is up stalls docker-proxy for a second."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    while time.monotonic() - started < timeout:
        try:
            with UNCHECKED.open(request, timeout=2) as response:
                answered = response.status, response.read().decode()
            if answered == (200, MESSAGE):
                return time.monotonic() - started
        except (OSError, http.client.HTTPException):
            pass  # not listening yet, or docker-proxy reset the connection
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def container_floor(image: str) -> float:
    """Seconds of `docker run --detach --entrypoint true`: what starting any container of the
    image costs, below which no cold start can go (its removal is not counted, as a cold
    start's is not)."""
    started = time.monotonic()
    container = run("docker", "run", "--detach", "--label", helpers.LABEL, "--entrypoint",
                    "true", image).stdout.strip()  # fmt: skip
    seconds = time.monotonic() - started
    run("docker", "rm", "--force", container)
    return seconds


def timed_build(context: Path, tag: str) -> tuple[float, bool]:
    """`docker build` (BuildKit) timed whole; and whether the RUN step that installs
    requirements.txt came from the cache, read from the plain progress output."""
    started = time.monotonic()
    command = ["docker", "build", "--progress=plain", "--label", helpers.LABEL, "-t", tag]
    log = run(*command, str(context), timeout=900).stderr
    seconds = time.monotonic() - started
    steps = re.findall(r"^#(\d+) \[[^\]]+\] RUN .*requirements", log, re.MULTILINE)
    assert steps, f"no RUN step installs requirements.txt in:\n{log}"
    return seconds, all(re.search(rf"^#{step} CACHED$", log, re.MULTILINE) for step in steps)
