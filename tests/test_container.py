"""Container: every bake we can provision here is built into an image, started, and exercised as
an operator would: serving, workers, overrides, user, health, shutdown, crash recovery."""

import functools
import re
import socket
import subprocess
import threading
import time
import urllib.error

import pytest

from conftest import MESSAGE, bake, free_port, ids, matrix, wait_for
from dockerutil import (
    Container,
    build,
    docker,
    on_loopback,
    readme_block,
    shell,
)

pytestmark = pytest.mark.docker

# Python versions with stand-in base images on CI machines (.ci/stand-ins.sh).
PYTHONS = ["3.11", "3.13"]
PORT_WORKERS = [{"port": "6000", "workers": "3"}, {"port": "8080", "workers": "auto"}]
WORKER_CLASSES = [
    {"worker_class": "sync", "threads": "4"},
    {"worker_class": "gthread", "threads": "4"},
]
MATRIX = matrix([{"python_version": py} for py in PYTHONS], PORT_WORKERS, WORKER_CLASSES)
RUNTIME_FILES = ["app.py", "gunicorn.conf.py", "healthcheck.py", "requirements.txt"]


def expected_workers(answers: dict, cpus: int) -> int:
    return 2 * cpus + 1 if answers["workers"] == "auto" else int(answers["workers"])


@pytest.fixture(scope="session", params=MATRIX, ids=ids)
def image(request, docker_engine, cookies_session):
    """One image per matrix bake, built once with the legacy builder and shared by the tests."""
    answers = request.param
    project = bake(cookies_session, **answers)
    tag = f"template-test-{ids(answers)}:latest"
    build(project, tag)
    yield tag, answers, project
    docker("rmi", "-f", tag, check=False)


@pytest.fixture(scope="session")
def running(image):
    """A container of each image, serving; shared by the read-only checks."""
    tag, answers, _ = image
    # A 1 s health interval only speeds up this test; the check itself is the image's.
    with Container(tag, int(answers["port"]), "--health-interval", "1s") as container:
        container.wait_until_serving()
        yield container, answers


@functools.cache
def host_cpus() -> int:
    """CPUs a container may use when no limit is set."""
    return int(docker("run", "--rm", "python:3.11-slim", "python", "-c",
                      "import os; print(len(os.sched_getaffinity(0)))"))  # fmt: skip


def test_serves_the_message_on_the_prompted_port(running):
    container, answers = running
    assert container.get() == (200, MESSAGE)
    assert container.get("/healthz") == (200, '{"status":"ok"}\n')
    exposed = docker("inspect", "--format", "{{json .Config.ExposedPorts}}", container.id)
    assert f'"{answers["port"]}/tcp"' in exposed


def test_runs_the_prompted_python(running):
    container, answers = running
    version = container.exec("python", "-c", "import sys; print(sys.version_info[:2])")
    assert version == "({}, {})".format(*answers["python_version"].split("."))
    # The venv was built by the same Python at the same path: its interpreter link resolves.
    venv_version = container.exec(
        "/opt/venv/bin/python", "-c", "import platform; print(platform.python_version())"
    )
    config = container.exec("cat", "/opt/venv/pyvenv.cfg")
    assert re.search(rf"^version(_info)? = {re.escape(venv_version)}$", config, re.MULTILINE), (
        config
    )


def test_master_and_prompted_workers(running):
    container, answers = running
    expected = expected_workers(answers, host_cpus())
    container.wait_for_workers(expected)
    time.sleep(1)  # and no extra worker appears later
    assert len(container.gunicorn_processes()[1]) == expected


def test_non_root_and_app_read_only(running):
    container, _ = running
    assert container.exec("id", "-u") != "0"
    assert "Permission denied" in docker(
        "exec", container.id, "sh", "-c", "touch /app/app.py 2>&1 || true"
    )
    assert "Permission denied" in docker(
        "exec", container.id, "sh", "-c", "touch /app/new 2>&1 || true"
    )


def test_becomes_healthy_without_curl(running):
    container, _ = running
    assert container.exec("sh", "-c", "command -v curl || echo none") == "none"
    assert wait_for(lambda: container.state()["Health"]["Status"] == "healthy", what="healthy")


def test_ships_only_what_it_runs(running):
    container, _ = running
    assert sorted(container.exec("ls", "-A", "/app").split()) == RUNTIME_FILES
    venv_bin = container.exec("ls", "/opt/venv/bin").split()
    assert "gunicorn" in venv_bin and "pip" not in venv_bin
    probe = (
        "import importlib.util as u; print([m for m in ('pip', 'setuptools') if u.find_spec(m)])"
    )
    assert container.exec("python", "-c", probe) == "[]"
    assert (
        container.exec("sh", "-c", "ls -d /root/.cache /opt/pip 2>/dev/null || echo none") == "none"
    )


def test_logs_unbuffered_and_heartbeat_in_memory(running):
    container, answers = running
    environment = container.exec("env")
    assert "PYTHONUNBUFFERED=1" in environment and "PYTHONDONTWRITEBYTECODE=1" in environment
    assert environment.splitlines()[0] and "PATH=/opt/venv/bin:" in environment
    # Only PID 1 (the master) is listed: it holds every worker's heartbeat file, and unlike a
    # passing healthcheck probe it cannot exit halfway through the listing.
    workers = expected_workers(answers, host_cpus())
    container.wait_for_workers(workers)
    open_files = container.exec("ls", "-l", "/proc/1/fd/")
    assert open_files.count("/dev/shm/wgunicorn-") == workers, open_files
    assert "Booting worker" in container.logs()  # already flushed to docker logs


def test_read_only_root_filesystem(image):
    """docker run --read-only, with no tmpfs added: nothing in the image needs to write."""
    tag, answers, _ = image
    with Container(tag, int(answers["port"]), "--read-only") as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        assert container.exec("python", "healthcheck.py") == ""


def test_runtime_overrides(image):
    """PORT, WEB_CONCURRENCY and GUNICORN_CMD_ARGS, as a user sets them on docker run."""
    tag, _, _ = image
    overrides = (
        "-e",
        "PORT=7000",
        "-e",
        "WEB_CONCURRENCY=2",
        "-e",
        "GUNICORN_CMD_ARGS=--access-logfile -",
    )
    with Container(tag, 7000, *overrides) as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        container.wait_for_workers(2)
        wait_for(lambda: '"GET / HTTP/1.1" 200' in container.logs(), what="access log line")


def test_docker_stop_is_prompt_and_clean(image):
    tag, answers, _ = image
    with Container(tag, int(answers["port"])) as container:
        container.wait_until_serving()
        container.wait_until_idle(expected_workers(answers, host_cpus()))
        started = time.monotonic()
        docker("stop", container.id)
        elapsed = time.monotonic() - started
        assert container.state()["ExitCode"] == 0
        assert elapsed < 3, f"docker stop took {elapsed:.1f}s:\n{container.logs()}"
        print(f"\nstop time {tag}: {elapsed:.2f}s")


def slow_request(port: int) -> socket.socket:
    """Open a connection and send all of a request but its final blank line: the server has
    accepted it and is reading it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n")
    return sock


def finish(socks: list[socket.socket]) -> list[bytes]:
    """Complete every request at once (a gthread worker may queue some behind busy threads),
    then read each response to the end."""
    for sock in socks:
        sock.sendall(b"\r\n")
    responses = []
    for sock in socks:
        with sock:
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            responses.append(b"".join(chunks))
    return responses


def test_sigterm_finishes_in_flight_requests(image):
    """docker stop in the middle of load: requests already accepted are all answered."""
    tag, answers, _ = image
    with Container(tag, int(answers["port"])) as container:
        container.wait_until_serving()
        container.wait_until_idle(expected_workers(answers, host_cpus()))
        _, workers = container.gunicorn_processes()
        # A sync worker reads one request at a time, a gthread worker one per thread.
        per_worker = int(answers["threads"]) if answers["worker_class"] == "gthread" else 1
        in_flight = [slow_request(container.host_port) for _ in range(len(workers) * per_worker)]
        time.sleep(1)  # let the workers accept their connections

        background = {"ok": 0, "refused": 0, "broken": 0}

        def load():
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                try:
                    status, body = container.get(timeout=3)
                    background["ok" if (status, body) == (200, MESSAGE) else "broken"] += 1
                except (ConnectionError, urllib.error.URLError, TimeoutError, OSError):
                    background["refused"] += 1
                    time.sleep(0.05)

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(0.5)
        stopping = subprocess.Popen(["docker", "stop", container.id], stdout=subprocess.DEVNULL)
        time.sleep(1)  # SIGTERM has reached Gunicorn; the listener is closed
        responses = finish(in_flight)
        stopping.wait(timeout=30)
        loader.join()

        failed = [
            r
            for r in responses
            if not (r.startswith(b"HTTP/1.1 200") and r.endswith(MESSAGE.encode()))
        ]
        print(
            f"\nin-flight {tag}: {len(responses)} accepted, {len(failed)} failed; load {background}"
        )
        assert failed == []
        assert background["broken"] == 0  # every answered request was complete and correct
        assert container.state()["ExitCode"] == 0


def test_killed_worker_is_replaced(image):
    tag, answers, _ = image
    with Container(tag, int(answers["port"])) as container:
        container.wait_until_serving()
        master, workers = container.wait_for_workers(expected_workers(answers, host_cpus()))
        victim = workers[0]
        subprocess.run(["kill", "-KILL", str(victim)], check=True)  # host pid, from docker top
        replacement = wait_for(
            lambda: (
                (p := container.gunicorn_processes())[1] != workers
                and len(p[1]) == len(workers)
                and p
            ),
            what="a replacement worker",
        )
        master_after, replaced = replacement
        assert victim not in replaced
        assert master_after == master
        assert container.get() == (200, MESSAGE)


def test_auto_workers_follow_the_cpu_quota(docker_engine, cookies):
    """workers=auto counts the CPUs the container may use (--cpus), not the host's cores."""
    project = bake(cookies, workers="auto")
    tag = "template-test-auto-quota:latest"
    build(project, tag)
    try:
        with Container(tag, 6000, "--cpus", "1") as container:
            container.wait_until_serving()
            container.wait_for_workers(3)  # 2 x 1 CPU + 1, on a host with more
            time.sleep(1)
            assert len(container.gunicorn_processes()[1]) == 3
    finally:
        docker("rmi", "-f", tag, check=False)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("WEB_CONCURRENCY=0", "gunicorn.conf.py: WEB_CONCURRENCY='0' is not allowed"),
        ("PORT=70000", "gunicorn.conf.py: PORT='70000' is not allowed"),
        # Gunicorn itself parses WEB_CONCURRENCY as it starts, before any config file.
        ("WEB_CONCURRENCY=abc", "ValueError: invalid literal for int() with base 10: 'abc'"),
    ],
)
def test_bad_setting_stops_the_container_instead_of_hanging(image, setting, message):
    tag, answers, _ = image
    with Container(tag, int(answers["port"]), "-e", setting) as container:
        state = container.wait_until_exited(timeout=20)
        assert state["ExitCode"] != 0
        assert message in container.logs()


@pytest.mark.parametrize("python", PYTHONS)
def test_buildkit_builds_and_serves(docker_engine, cookies, python):
    project = bake(cookies, python_version=python)
    tag = f"template-test-buildkit-{python}:latest"
    build(project, tag, buildkit=True)
    try:
        with Container(tag, 6000) as container:
            assert container.wait_until_serving() == (200, MESSAGE)
    finally:
        docker("rmi", "-f", tag, check=False)


def test_readme_commands_work(docker_engine, cookies):
    """The generated README's build / run / curl / stop block and its run-time settings example,
    with published ports kept on loopback. A unique name and free ports avoid other images."""
    port = free_port()
    project = bake(cookies, project_name=f"Readme Check {port}", port=str(port))
    image = f"readme-check-{port}"
    try:
        for command in readme_block(project, "Build, run, try it"):
            if command.startswith("curl"):  # retried until the server is up
                assert wait_for(lambda c=command: shell(c, project, check=False)) == MESSAGE
            else:
                shell(on_loopback(command), project)

        (example,) = readme_block(project, "Settings at run time")
        host_port = free_port()
        shell(re.sub(r"-p (\d+):", f"-p 127.0.0.1:{host_port}:", example), project)
        assert wait_for(lambda: shell(f"curl -s http://127.0.0.1:{host_port}/", project)) == MESSAGE
        # WEB_CONCURRENCY=5: docker top lists a header, the master and 5 workers.
        wait_for(lambda: len(docker("top", image).splitlines()) == 1 + 1 + 5, what="5 workers")
        assert '"GET / HTTP/1.1" 200' in shell(f"docker logs {image} 2>&1", project)
    finally:
        docker("rm", "-f", image, check=False)
        docker("rmi", "-f", image, check=False)
