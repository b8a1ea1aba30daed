"""Serving: baked projects run under Gunicorn exactly as their Dockerfile's CMD starts it."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import MESSAGE, bake, dockerfile_cmd, free_port, wait_for


def children(pid: int) -> list[int]:
    """Process ids whose parent is pid, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def get(port: int, path: str = "/") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="session")
def venv(cookies_session, tmp_path_factory) -> Path:
    """One venv with a baked project's pinned requirements (the same for every bake)."""
    project = bake(cookies_session)
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, "-r", str(project / "requirements-dev.txt")], check=True)
    return path


@pytest.mark.parametrize(
    ("answers", "cpus", "expected_workers"),
    [
        ({}, None, 3),  # the seed: 3 sync workers
        ({"workers": "1"}, None, 1),
        ({"workers": "2", "worker_class": "gthread", "threads": "4"}, None, 2),
        ({"workers": "auto"}, 1, 3),  # 2 x 1 usable CPU + 1, whatever the host has
    ],
    ids=["seed", "one-worker", "gthread", "auto-on-one-cpu"],
)
def test_gunicorn_serves_as_the_dockerfile_starts_it(
    cookies, venv, answers, cpus, expected_workers
):
    port = free_port()
    project = bake(cookies, port=str(port), **answers)
    requirements = (project / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, re.MULTILINE)

    command = dockerfile_cmd(project)
    command[0] = str(venv / "bin" / command[0])
    environ = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    for name in ("PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        environ.pop(name, None)  # the bake's own values, not this machine's

    affinity = os.sched_getaffinity(0)
    if cpus:  # the server inherits this process's CPU affinity
        os.sched_setaffinity(0, sorted(affinity)[:cpus])
    try:
        server = subprocess.Popen(command, cwd=project, env=environ)
    finally:
        os.sched_setaffinity(0, affinity)
    try:
        assert wait_for(lambda: get(port), what="GET /") == (200, MESSAGE)
        assert get(port, "/healthz")[0] == 200
        wait_for(lambda: len(children(server.pid)) == expected_workers, what="workers")
        time.sleep(1)  # no extra worker appears later
        assert len(children(server.pid)) == expected_workers
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0


def test_baked_projects_own_tests_pass(cookies):
    """The generated README's test command, run verbatim in a fresh bake."""
    project = bake(cookies)
    readme = (project / "README.md").read_text("utf-8")
    section = readme.split("## Run the tests", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", section, re.DOTALL).group(1)
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^3 passed", run.stdout.splitlines()[-1]) or " 3 passed" in run.stdout
