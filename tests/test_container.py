"""Containers: bakes built into images, started and exercised as an operator would. Each test
runs over the answers its concern depends on; the rest stay at their defaults."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
from pathlib import Path

import pytest

from helpers import (
    BUILDABLE_PYTHONS,
    MESSAGE,
    Container,
    bake,
    children,
    commands,
    docker,
    free_port,
    ids,
    locked,
    run,
    settled_workers,
    shell,
    sockets,
    wait_for,
)

pytestmark = pytest.mark.docker

PYTHONS = [{"python_version": python} for python in BUILDABLE_PYTHONS]
PORT_WORKERS = [{}, {"port": "8080", "workers": "auto"}]
WORKER_CLASSES = [{}, {"worker_class": "gthread", "threads": "4"}]


def expected_workers(answers: dict) -> int:
    """Containers without a CPU limit may use every CPU this process may use."""
    workers = answers.get("workers", "3")
    return 2 * len(os.sched_getaffinity(0)) + 1 if workers == "auto" else int(workers)


def start(image, answers: dict, *options: str) -> Container:
    tag, _ = image(**answers)
    return Container(tag, int(answers.get("port", "6000")), *options)


@pytest.mark.parametrize("answers", PYTHONS, ids=ids)
def test_serves_on_the_prompted_python(image, answers):
    with start(image, answers, "--health-interval", "1s") as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        assert container.get("/healthz") == (200, '{"status":"ok"}\n')
        version = container.exec("python", "-c", "import sys; print(sys.version_info[:2])")
        assert version == "({}, {})".format(*answers["python_version"].split("."))
        # The venv's interpreter link, made in the build stage, resolves in the runtime stage.
        assert container.exec("/opt/venv/bin/python", "-c", "print('venv ok')") == "venv ok"
        assert wait_for(lambda: container.state()["Health"]["Status"] == "healthy", what="healthy")


@pytest.mark.parametrize("answers", PYTHONS, ids=ids)
def test_ships_only_what_it_runs(image, answers):
    _, project = image(**answers)
    with start(image, answers) as container:
        container.wait_until_serving()
        assert set(container.exec("ls", "-A", "/app").split()) == {
            "gunicorn.conf.py", "healthcheck.py", "serving", project.name,
        }  # fmt: skip
        # The venv holds exactly the locked packages: no pip, no setuptools, no installer.
        probe = "import importlib.metadata as m; print(*sorted(d.name.lower() for d in m.distributions()))"
        assert set(container.exec("/opt/venv/bin/python", "-c", probe).split()) == set(
            locked(project)
        )
        assert container.exec("sh", "-c", "command -v curl || echo none") == "none"


def test_a_new_subpackage_reaches_the_image_and_secrets_do_not(image):
    """A subpackage added to the app needs no change to the Dockerfile or .dockerignore; .env
    files and caches next to it stay out."""
    tag, project = image(whoami=True)
    with Container(tag, 6000) as container:
        container.wait_until_serving()
        assert container.get("/whoami")[0] == 200
        shipped = container.exec("find", "/app", "-name", ".env*", "-o", "-name", "__pycache__")
        assert shipped == ""
        assert container.exec("ls", f"/app/{project.name}/whoami") == "__init__.py"


def test_json_logs_are_one_object_per_line_for_app_gunicorn_and_access(image):
    """Every line the container writes under load, on stdout and stderr, parses as JSON."""
    tag, project = image(whoami=True)
    with Container(tag, 6000, "-e", "LOG_FORMAT=json", "-e", "ACCESS_LOG=on") as container:
        container.wait_until_serving()
        for path in ["/", "/whoami", "/missing"] * 50:
            try:
                container.get(path)
            except urllib.error.HTTPError as error:
                assert error.code == 404
        docker("stop", container.id)
        result = run("docker", "logs", container.id)
        lines = (result.stdout + result.stderr).splitlines()
        entries = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
        loggers = {entry["logger"] for entry in entries}
        assert {"gunicorn.error", "gunicorn.access", project.name} <= loggers
        access = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
        assert len(access) >= 150 and {entry["status"] for entry in access} >= {200, 404}


@pytest.mark.parametrize(
    ("answers", "options", "workers", "reason"),
    [
        pytest.param({}, [], 3, "(chosen when the project was generated)", id="workers:3"),
        pytest.param({}, ["-e", "WEB_CONCURRENCY=2"], 2, "(WEB_CONCURRENCY)", id="WEB_CONCURRENCY:2"),
        pytest.param({"workers": "auto"}, ["--cpus", "1"], 3, "(auto: 2 x 1 CPUs + 1)", id="workers:auto,cpus:1"),
        # 2 CPUs ask for 5 workers; 128 MiB holds 2 of 64 MiB.
        pytest.param(
            {"workers": "auto"}, ["--cpus", "2", "--memory", "128m"], 2,
            "(auto: 2 x 2 CPUs + 1, capped at 64 MiB each by the 128 MiB limit)",
            id="workers:auto,cpus:2,memory:128m",
        ),
    ],
)  # fmt: skip
def test_start_up_line_states_the_workers_and_why(image, answers, options, workers, reason):
    with start(image, answers, *options) as container:
        container.wait_until_serving()
        container.settled_workers(workers)
        (line,) = [line for line in container.logs().splitlines() if "Serving " in line]
        assert f": {workers} sync workers {reason}; log format text, access log off" in line


@pytest.mark.parametrize("answers", PORT_WORKERS, ids=ids)
def test_master_and_the_prompted_workers(image, answers):
    with start(image, answers) as container:
        container.wait_until_serving()
        exposed = docker("inspect", "--format", "{{json .Config.ExposedPorts}}", container.id)
        assert f'"{answers.get("port", "6000")}/tcp"' in exposed
        container.settled_workers(expected_workers(answers))


def test_non_root_and_cannot_change_the_app(image):
    with start(image, {}) as container:
        container.wait_until_serving()
        assert container.exec("id", "-u") == "10001"
        for path in ("/app/gunicorn.conf.py", "/app/new-file"):  # the code, and beside it
            result = run("docker", "exec", container.id, "touch", path, check=False)
            assert result.returncode != 0 and "Permission denied" in result.stderr


def test_read_only_root_filesystem(image):
    """docker run --read-only, with no tmpfs added: nothing in the image needs to write."""
    with start(image, {}, "--read-only") as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        assert container.exec("python", "healthcheck.py") == ""


def test_logs_unbuffered_and_heartbeat_in_memory(image):
    with start(image, {}) as container:
        container.wait_until_serving()
        workers = container.settled_workers(3)
        # The master holds every worker's heartbeat file, kept in /dev/shm.
        heartbeats = [
            link for link in Path(f"/proc/{container.master()}/fd").iterdir()
            if str(link.readlink()).startswith("/dev/shm/wgunicorn-")
        ]  # fmt: skip
        assert len(heartbeats) == len(workers)
        assert container.logs().count("Booting worker") == len(workers)  # already flushed


def test_health_check_ignores_proxy_settings(image):
    """http_proxy in the container's environment must not route the health check away."""
    proxy = ("-e", "http_proxy=http://127.0.0.1:9", "-e", "HTTP_PROXY=http://127.0.0.1:9")
    with start(image, {}, *proxy) as container:
        container.wait_until_serving()
        assert container.exec("python", "healthcheck.py") == ""


def test_runtime_overrides(image):
    """PORT, WEB_CONCURRENCY and GUNICORN_CMD_ARGS, as a user sets them on docker run."""
    tag, _ = image()
    overrides = ["-e", "PORT=7000", "-e", "WEB_CONCURRENCY=2"]
    overrides += ["-e", "GUNICORN_CMD_ARGS=--access-logfile -"]
    with Container(tag, 7000, *overrides) as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        container.settled_workers(2)
        container.wait_for_log('"GET / HTTP/1.1" 200')


BAD_SETTINGS = [
    ("WEB_CONCURRENCY", "0", "error: WEB_CONCURRENCY='0' is not allowed"),
    ("WEB_CONCURRENCY", "5000", "error: WEB_CONCURRENCY='5000' is not allowed"),
    ("PORT", "80", "error: PORT='80' is not allowed"),
    ("LOG_FORMAT", "xml", "error: LOG_FORMAT='xml' is not allowed"),
    # Gunicorn checks its own setting before the app reads it.
    ("FORWARDED_ALLOW_IPS", "10.0.0.0/33", "Error: '10.0.0.0/33' does not appear to be an IPv4"),
    # GUNICORN_CMD_ARGS applies after the config file: checked as the server starts.
    ("GUNICORN_CMD_ARGS", "--workers 0", "workers=0 (GUNICORN_CMD_ARGS) is not allowed"),
    ("GUNICORN_CMD_ARGS", "--worker-connections 0", "worker_connections=0 (GUNICORN_CMD_ARGS)"),
    # A switch that is not true or false would turn debug mode on; a size with a unit, or a
    # SameSite in lower case, would fail every request that needs it.
    ("FLASK_DEBUG", "no", "error: FLASK_DEBUG='no' is not allowed; expected true, false, 1 or 0"),
    (
        "FLASK_MAX_CONTENT_LENGTH",
        "1MB",
        "error: FLASK_MAX_CONTENT_LENGTH='1MB' is not allowed; expected a whole number, 0 or more",
    ),
    (
        "FLASK_SESSION_COOKIE_SAMESITE",
        "lax",
        "error: FLASK_SESSION_COOKIE_SAMESITE='lax' is not allowed; expected Strict, Lax or None",
    ),
    # Gunicorn itself parses WEB_CONCURRENCY as it starts, before any config file.
    ("WEB_CONCURRENCY", "abc", "ValueError: invalid literal for int() with base 10: 'abc'"),
]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [pytest.param(*setting, id=f"{setting[0]}:{setting[1]}") for setting in BAD_SETTINGS],
)
def test_a_bad_setting_stops_the_container_instead_of_hanging(image, name, value, message):
    with start(image, {}, "-e", f"{name}={value}") as container:
        state = container.wait_until_exited()
        assert state["ExitCode"] != 0
        assert message in container.logs()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-e", "WEB_CONCURRENCY=1000"], "error: WEB_CONCURRENCY=1000 is not allowed; expected at most 4 in the container's memory limit (256 MiB, 64 MiB a worker)"),
        (["-e", "GUNICORN_CMD_ARGS=--workers 5"], "error: 5 workers (GUNICORN_CMD_ARGS) is not allowed; expected at most 4"),
    ],
    ids=["WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"],
)  # fmt: skip
def test_more_workers_than_the_memory_limit_holds_stop_the_container(image, options, message):
    """The kernel would kill them once they all ran: refused at start, in one line."""
    with start(image, {}, "--memory", "256m", *options) as container:
        assert container.wait_until_exited()["ExitCode"] != 0
        assert message in container.logs() and "Traceback" not in container.logs()


@pytest.mark.parametrize("answers", WORKER_CLASSES, ids=ids)
def test_docker_stop_is_prompt_and_clean(image, answers):
    """Idle workers exit at once on SIGTERM: docker stop neither waits out Gunicorn's graceful
    timeout (8 s) nor Docker's kill (10 s, exit status 137)."""
    with start(image, answers) as container:
        container.wait_until_serving()
        container.settled_workers(expected_workers(answers))
        started = time.monotonic()
        docker("stop", container.id)
        elapsed = time.monotonic() - started
        assert container.state()["ExitCode"] == 0
        assert elapsed < 5, f"docker stop took {elapsed:.1f} s:\n{container.logs()}"


def accepted(master: int) -> int:
    """Connections the workers have accepted: their sockets other than the listeners, which
    they share with the master."""

    listeners = sockets(master)
    return sum(len(sockets(worker) - listeners) for worker in children(master))


def listening(master: int) -> bool:
    return bool(sockets(master))


def slow_request(port: int) -> socket.socket:
    """All of a request but its final blank line: the server has accepted it and reads it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n")
    return sock


def finish(socks: list[socket.socket]) -> list[bytes]:
    """Complete every request at once (a gthread worker may queue some behind busy threads),
    then read each response to its end."""
    for sock in socks:
        sock.sendall(b"\r\n")
    responses = []
    for sock in socks:
        with sock:
            responses.append(b"".join(iter(lambda s=sock: s.recv(65536), b"")))
    return responses


@pytest.mark.parametrize("answers", WORKER_CLASSES, ids=ids)
def test_sigterm_finishes_in_flight_requests(image, answers):
    """docker stop in the middle of requests: those already accepted are all answered."""
    with start(image, answers) as container:
        container.wait_until_serving()
        workers = container.settled_workers(expected_workers(answers))
        master = container.master()
        # A sync worker reads one request at a time, a gthread worker one per thread.
        per_worker = int(answers["threads"]) if answers.get("worker_class") == "gthread" else 1
        in_flight = [slow_request(container.host_port) for _ in range(len(workers) * per_worker)]
        wait_for(lambda: accepted(master) == len(in_flight), what="every connection accepted")

        background = {"ok": 0, "refused": 0, "broken": 0}
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    answer = container.get(timeout=3)
                    background["ok" if answer == (200, MESSAGE) else "broken"] += 1
                except (urllib.error.URLError, OSError):
                    background["refused"] += 1
                    stop.wait(0.05)

        loader = threading.Thread(target=load)
        loader.start()  # its requests queue behind the slow ones, then meet the shutdown
        stopping = subprocess.Popen(["docker", "stop", container.id], stdout=subprocess.DEVNULL)
        container.wait_for_log("Handling signal: term")
        wait_for(lambda: not listening(master), what="the master to close its listener")
        responses = finish(in_flight)
        stopping.wait(timeout=30)
        stop.set()
        loader.join()

        failed = [
            r
            for r in responses
            if not (r.startswith(b"HTTP/1.1 200") and r.endswith(MESSAGE.encode()))
        ]
        assert failed == []
        assert background["broken"] == 0  # every answered request was complete and correct
        assert container.state()["ExitCode"] == 0


def test_killed_worker_is_replaced(image):
    with start(image, {}) as container:
        container.wait_until_serving()
        master = container.master()
        workers = container.settled_workers(3)
        os.kill(workers[0], signal.SIGKILL)  # a host pid
        replaced = wait_for(
            lambda: (now := children(master)) != workers and len(now) == 3 and now,
            what="a replacement worker",
        )
        assert workers[0] not in replaced
        assert container.master() == master
        assert container.get() == (200, MESSAGE)


def test_generated_readme_commands_work(docker_engine, cookies):
    """The generated README's build / run / curl / stop block and its run-time settings
    example, verbatim; a project name of its own keeps its image apart from others."""
    port = free_port()
    project = bake(cookies, project_name=f"Readme Check {port}", port=str(port))
    image = f"readme-check-{port}"
    try:
        for command in commands(project / "README.md", "Build, run, try it"):
            if command.startswith("curl"):  # retried until the server is up
                assert wait_for(lambda c=command: shell(c, project, check=False)) == MESSAGE
            else:
                shell(command, project)

        (example,) = commands(project / "README.md", "Settings")
        host_port = int(re.search(r"-p 127\.0\.0\.1:(\d+):", example)[1])
        shell(example, project)
        url = f"http://127.0.0.1:{host_port}/"
        assert wait_for(lambda: shell(f"curl -s {url}", project)) == MESSAGE
        container_pid = int(docker("inspect", "--format", "{{.State.Pid}}", image))
        settled_workers(container_pid, 5)  # WEB_CONCURRENCY=5
        # LOG_FORMAT=json, ACCESS_LOG=on
        logs = [
            json.loads(line) for line in shell(f"docker logs {image} 2>&1", project).splitlines()
        ]
        assert [
            (e["method"], e["path"], e["status"]) for e in logs if e["logger"] == "gunicorn.access"
        ] == [("GET", "/", 200)]
    finally:
        docker("rm", "-f", image, check=False)
        docker("rmi", "-f", image, check=False)
