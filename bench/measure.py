"""Measurements: Docker builds and containers, wrk loads, memory, cold start, bakes."""

import http.client
import ipaddress
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EXPECTED_BODY = "Hello from Docker! 🐳"
CEILING_SCRIPT = Path(__file__).with_name("ceiling.py")


def sh(*cmd: str, timeout: float = 600, check: bool = True, **env: str) -> str:
    run = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )
    if check and run.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return run.stdout + run.stderr


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_root(port: int) -> tuple[int, str] | None:
    """(status, body) of GET / on 127.0.0.1:port, or None while nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException):
        return None  # not listening yet, or docker-proxy reset the connection
    finally:
        conn.close()


@dataclass
class Build:
    seconds: float
    dep_layer_cached: bool  # the RUN step that pip-installs came from the build cache


class Docker:
    """Runs docker and remembers everything it creates, so cleanup() removes exactly that."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.label = f"bench-run={prefix}"
        self.containers: set[str] = set()
        self.tags: list[str] = []
        self.layers: list[str] = []  # images our builds created (not cache hits, not bases)
        self.network = ""
        self.free_ips: list[str] = []

    def unique_ip(self) -> str:
        """A container address never used before in this run, on a bridge network of ours.

        docker-proxy opens a new connection to the container for every client connection, and
        many of them stay in TIME_WAIT on the host for 60 s, each holding an ephemeral port
        for that address. Past about half the ephemeral range (Linux gives connect() the even
        ports first), new connections stall: a container that reused an earlier one's address
        would start with those ports taken.
        """
        if not self.network:
            self.network = f"{self.prefix}-net"
            # `docker run --ip` needs a subnet given at creation: take the one Docker picks.
            self("network", "create", "--label", self.label, self.network)
            subnet = self(
                "network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", self.network
            )
            self("network", "rm", self.network)
            self("network", "create", "--label", self.label, "--subnet", subnet, self.network)
            self.free_ips = [str(ip) for ip in ipaddress.ip_network(subnet).hosts()][10:]
        return self.free_ips.pop(0)

    def __call__(self, *args: str, **kwargs) -> str:
        return sh("docker", *args, **kwargs).strip()

    def build(self, context: Path, tag: str, no_cache: bool = False) -> Build:
        """Legacy builder (DOCKER_BUILDKIT=0): its 'Using cache' lines show layer reuse."""
        self.tags.append(tag)
        options = ["--no-cache"] if no_cache else []
        started = time.perf_counter()
        run = subprocess.run(
            ["docker", "build", "--force-rm", "--label", self.label, "-t", tag, *options, "."],
            cwd=context,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        seconds = time.perf_counter() - started
        output = run.stdout + run.stderr
        dep_cached = self._track_layers(output)
        if run.returncode:
            errors = [line for line in output.splitlines() if "error" in line.lower()]
            raise RuntimeError(f"build of {tag} failed: {(errors or ['?'])[-1]}\n{output[-3000:]}")
        return Build(seconds, dep_cached)

    def _track_layers(self, output: str) -> bool:
        """Record the layers this build created; say whether the pip RUN step was cached."""
        instruction, cached, dep_cached = "", False, False
        for line in output.splitlines():
            if step := re.match(r"Step \d+/\d+ : (.*)", line):
                instruction, cached = step[1], False
            elif line.strip() == "---> Using cache":
                cached = True
                if instruction.startswith("RUN") and "pip" in instruction:
                    dep_cached = True
            elif layer := re.fullmatch(r" ---> ([0-9a-f]{12,})", line):
                # Cache hits may belong to other builds, and the base image is not ours.
                ours = not cached and not instruction.startswith("FROM")
                self.layers += [layer[1]] if ours else []
        return dep_cached

    def image_size(self, image: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", image))

    def versions(self, image: str) -> dict[str, str | None]:
        """Versions of the served packages inside the image's venv."""
        code = (
            "import importlib.metadata as m, json\n"
            "def v(name):\n"
            "    try:\n        return m.version(name)\n"
            "    except m.PackageNotFoundError:\n        return None\n"
            "print(json.dumps({n: v(n) for n in ('flask', 'gunicorn', 'gunicorn_h1c')}))"
        )
        name = f"{self.prefix}-versions"
        self.containers.add(name)
        out = self(
            "run",
            "--rm",
            "--name",
            name,
            "--label",
            self.label,
            "--entrypoint",
            "/opt/venv/bin/python",
            image,
            "-c",
            code,
        )
        self.containers.discard(name)
        return json.loads(out.splitlines()[-1])

    def start(self, image: str, name: str, port: int, env: dict[str, str]) -> dict:
        """Start a container; time `docker run` and the first 200 on /, both from invocation."""
        host_port = free_port()
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        publish = f"127.0.0.1:{host_port}:{port}"
        ip = self.unique_ip()
        network = ["--network", self.network, "--ip", ip]
        self.containers.add(name)
        started = time.perf_counter()
        self(
            "run",
            "-d",
            "--name",
            name,
            "--label",
            self.label,
            "-p",
            publish,
            *network,
            *env_args,
            image,
        )
        docker_run_s = time.perf_counter() - started
        # Poll only once `docker run` has returned: a connection attempted before the
        # container's network is up stalls docker-proxy for about a second (a SYN retry).
        while (answer := get_root(host_port)) is None or answer[0] != 200:
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"{name} did not serve:\n{self.logs(name)}")
            time.sleep(0.01)
        cold_start_s = time.perf_counter() - started
        if answer[1] != EXPECTED_BODY:
            raise RuntimeError(f"{name} answered {answer[1]!r}")
        return {
            "port": host_port,
            "ip": ip,
            "cold_start_s": cold_start_s,
            "docker_run_s": docker_run_s,
        }

    def logs(self, name: str) -> str:
        return sh("docker", "logs", "--tail", "30", name, check=False)

    def remove(self, name: str) -> None:
        sh("docker", "rm", "-f", "-v", name, check=False)
        self.containers.discard(name)

    def memory(self, name: str) -> dict:
        """RSS and PSS of every process in the container, from the host's /proc."""
        rows = [
            line.split(None, 2)
            for line in self("top", name, "-o", "pid,ppid,args").splitlines()[1:]
        ]
        pids = {int(pid) for pid, _, _ in rows}
        master = [int(pid) for pid, ppid, _ in rows if int(ppid) not in pids]
        workers = [int(pid) for pid, ppid, _ in rows if master and int(ppid) == master[0]]
        rss = pss = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key == "Rss":
                    rss += int(rest.split()[0])
                elif key == "Pss":
                    pss += int(rest.split()[0])
        return {
            "rss_mb": rss / 1024,
            "pss_mb": pss / 1024,
            "processes": len(pids),
            "workers": len(workers),
        }

    def cleanup(self) -> None:
        """Remove our containers, tags and the layers our builds created; nothing else."""
        leftovers = self("ps", "-aq", "--filter", f"label={self.label}", check=False).split()
        for container in [*self.containers, *leftovers]:
            sh("docker", "rm", "-f", "-v", container, check=False)
        self.containers.clear()
        for tag in self.tags:
            sh("docker", "rmi", tag, check=False)
        # Newest first; removing a leaf removes its untagged parents, so many of these are
        # already gone. Without -f, a layer another build now uses as its parent is kept.
        for layer in reversed(self.layers):
            sh("docker", "rmi", layer, check=False)
        self.tags.clear()
        self.layers.clear()
        if self.network:
            sh("docker", "network", "rm", self.network, check=False)
            self.network = ""


def time_wait_to(ip: str) -> int:
    """Host sockets in TIME_WAIT towards this address: docker-proxy's used-up ports."""
    return len(sh("ss", "-Htan", "state", "time-wait", "dst", ip).splitlines())


def ephemeral_ports() -> int:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return high - low + 1


WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk(port: int, seconds: float, connections: int, threads: int, close: bool) -> dict:
    """One wrk load on GET /; `close` sends Connection: close (a new connection per request)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if close:
        command += ["-H", "Connection: close"]
    output = sh(*command, f"http://127.0.0.1:{port}/", timeout=seconds + 60)
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    def latency_ms(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        return float(found[1]) * WRK_UNITS_MS[found[2]]

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
    }


def ceiling(app_py: Path, seconds: float) -> float:
    """Requests/s of the app called as a WSGI callable in one process (one core)."""
    out = sh(
        sys.executable, "-B", str(CEILING_SCRIPT), str(app_py), str(seconds), timeout=seconds + 60
    )
    result = json.loads(out.strip().splitlines()[-1])
    if result["status"] != "200 OK" or result["body"] != EXPECTED_BODY:
        raise RuntimeError(f"{app_py} answered {result} in process")
    return result["rps"]


def bake(repo: Path, out_dir: Path, answers: dict[str, str]) -> tuple[Path, float]:
    """cookiecutter --no-input of the template; return (project folder, seconds)."""
    out_dir.mkdir(parents=True)
    args = [f"{key}={value}" for key, value in answers.items()]
    started = time.perf_counter()
    sh(sys.executable, "-m", "cookiecutter", "--no-input", str(repo), "-o", str(out_dir), *args)
    seconds = time.perf_counter() - started
    (project,) = out_dir.iterdir()
    return project, seconds


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def append_line(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + line + "\n")
