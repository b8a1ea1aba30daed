"""Small Docker helpers for the container tests: build, run, inspect, always clean up."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from conftest import free_port, wait_for

# Everything the tests create carries this label, so a crashed run can still be cleaned up.
LABEL = f"template-tests={uuid.uuid4().hex[:12]}"
# Debian's 20.10 client: the only one here that talks BuildKit to Debian's engine.
BUILDKIT_CLIENT = "/usr/bin/docker"


def docker(*args: str, check: bool = True, timeout: float = 600, **env: str) -> str:
    run = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )
    if check and run.returncode:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{run.stdout}{run.stderr}")
    return run.stdout.strip()


def engine_problem() -> str | None:
    """Why no Docker engine can be used, or None when one answers."""
    if not shutil.which("docker"):
        return "the docker command is not installed"
    try:
        run = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    return None if run.returncode == 0 else f"no Docker engine answers: {run.stderr.strip()}"


def build(context: Path, tag: str, buildkit: bool = False) -> float:
    """Build an image; return the seconds it took."""
    started = time.monotonic()
    client = BUILDKIT_CLIENT if buildkit else "docker"
    run = subprocess.run(
        [client, "build", "--label", LABEL, "-t", tag, str(context)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1" if buildkit else "0"},
    )
    assert run.returncode == 0, f"build of {tag} failed:\n{run.stdout}{run.stderr}"
    return time.monotonic() - started


class Container:
    """A detached container publishing one port on 127.0.0.1; removed on exit."""

    def __init__(self, image: str, port: int, *options: str, command: tuple[str, ...] = ()):
        self.host_port = free_port()
        self.id = docker(
            "run", "-d", "--label", LABEL, "-p", f"127.0.0.1:{self.host_port}:{port}",
            *options, image, *command,
        )  # fmt: skip

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        docker("rm", "-f", "-v", self.id, check=False)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.host_port}{path}"

    def get(self, path: str = "/", timeout: float = 5) -> tuple[int, str]:
        with urllib.request.urlopen(self.url(path), timeout=timeout) as response:
            return response.status, response.read().decode()

    def wait_until_serving(self, timeout: float = 30) -> tuple[int, str]:
        return wait_for(lambda: self.get(), timeout, f"{self.id[:12]} to serve\n{self.logs()}")

    def exec(self, *command: str) -> str:
        return docker("exec", self.id, *command)

    def logs(self) -> str:
        run = subprocess.run(
            ["docker", "logs", self.id], capture_output=True, text=True, check=False
        )
        return run.stdout + run.stderr

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.id))

    def gunicorn_processes(self) -> tuple[int, list[int]]:
        """(master pid, worker pids) as host pids, from docker top."""
        rows = [
            line.split(None, 2)
            for line in docker("top", self.id, "-o", "pid,ppid,args").splitlines()[1:]
        ]
        pids = {int(pid) for pid, _, args in rows if "gunicorn" in args}
        masters = [
            int(pid) for pid, ppid, args in rows if "gunicorn" in args and int(ppid) not in pids
        ]
        assert len(masters) == 1, rows
        workers = [int(pid) for pid, ppid, _ in rows if int(ppid) == masters[0]]
        return masters[0], sorted(workers)

    def wait_for_workers(self, count: int, timeout: float = 30) -> tuple[int, list[int]]:
        """(master, workers) once exactly `count` workers run."""

        def ready():
            master, workers = self.gunicorn_processes()
            return (master, workers) if len(workers) == count else None

        return wait_for(ready, timeout, f"{count} workers in {self.id[:12]}")

    def wait_until_idle(self, count: int, timeout: float = 30) -> None:
        """Until `count` workers run and each has installed its own signal handlers.

        A worker keeps the master's handlers from fork() until its init; Gunicorn loses a
        SIGTERM that lands in that moment, and shutdown then waits out graceful_timeout.
        A booted worker no longer catches SIGCHLD, which only the master handles.
        """
        sigchld = 1 << (signal.SIGCHLD - 1)

        def booted(pid: int) -> bool:
            status = Path(f"/proc/{pid}/status").read_text()
            caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE)[1], 16)
            return not caught & sigchld

        _, workers = self.wait_for_workers(count, timeout)
        wait_for(lambda: all(booted(pid) for pid in workers), timeout, "workers to boot")

    def wait_until_exited(self, timeout: float = 30) -> dict:
        return wait_for(lambda: (s := self.state())["Running"] is False and s, timeout, "exit")


def dangling_images() -> set[str]:
    """Untagged images: what the legacy builder leaves of a multistage build's first stage."""
    return set(docker("images", "-q", "--filter", "dangling=true", check=False).split())


def remove_created(dangling_before: set[str]) -> None:
    """Remove every container and image this test run created, build stages included."""
    containers = docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).split()
    if containers:
        docker("rm", "-f", "-v", *containers, check=False)
    images = set(docker("images", "-q", "--filter", f"label={LABEL}", check=False).split())
    images |= dangling_images() - dangling_before
    if images:
        docker("rmi", "-f", *sorted(images), check=False)


def readme_block(project: Path, heading: str) -> list[str]:
    """The command lines of the first bash block under a heading of the generated README."""
    readme = (project / "README.md").read_text("utf-8")
    section = readme.split(f"\n## {heading}\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def shell(command: str, cwd: Path, check: bool = True) -> str:
    """Run a README command line as a user would, in the project folder."""
    # This machine's docker client has no buildx; users' clients build with BuildKit.
    environ = {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}
    run = subprocess.run(
        command, shell=True, cwd=cwd, env=environ, capture_output=True, text=True,
        check=False, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0 or not check, f"{command}:\n{run.stdout}{run.stderr}"
    return run.stdout


def on_loopback(command: str) -> str:
    """Publish on 127.0.0.1 only: `-p 6000:6000` becomes `-p 127.0.0.1:6000:6000`."""
    return re.sub(r"-p (\d+):(\d+)", r"-p 127.0.0.1:\1:\2", command)
