"""Serving, without Docker: baked projects run under Gunicorn exactly as their Dockerfile's CMD
starts it, honour their run-time settings, and pass their own tests."""

import os
import signal
import subprocess

import pytest

from helpers import (
    MESSAGE,
    bake,
    commands,
    dockerfile_cmd,
    free_port,
    get,
    gunicorn_settings,
    settled_workers,
    shell,
    wait_for,
)


@pytest.mark.parametrize(
    ("answers", "cpus", "workers"),
    [
        pytest.param({}, None, 3, id="defaults"),  # the seed: 3 sync workers
        pytest.param({"workers": "1"}, None, 1, id="workers:1"),
        pytest.param(
            {"workers": "2", "worker_class": "gthread", "threads": "4"},
            None,
            2,
            id="workers:2,worker_class:gthread,threads:4",
        ),
        # 2 x 1 usable CPU + 1, whatever the host has
        pytest.param({"workers": "auto"}, 1, 3, id="workers:auto,cpus:1"),
    ],
)
def test_gunicorn_serves_as_the_dockerfile_starts_it(cookies, developed, answers, cpus, workers):
    port = free_port()
    project = bake(cookies, port=str(port), **answers)
    venv = developed / ".venv"  # the locked requirements, as the README's "Develop" installs them
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
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: get(f"{url}/"), what="GET /") == (200, MESSAGE)
        assert get(f"{url}/healthz")[0] == 200
        settled_workers(server.pid, workers)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0


@pytest.mark.parametrize(
    ("environ", "setting", "value"),
    [
        pytest.param({"PORT": "9000"}, "bind", ["0.0.0.0:9000"], id="PORT:9000"),
        pytest.param({"WEB_CONCURRENCY": "7"}, "workers", 7, id="WEB_CONCURRENCY:7"),
        pytest.param({"WEB_CONCURRENCY": "1000"}, "workers", 1000, id="WEB_CONCURRENCY:1000"),
    ],
)
def test_settings_from_the_environment(default_project, environ, setting, value):
    assert gunicorn_settings(default_project, **environ)[setting] == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param(name, value, id=f"{name}:{value}")
        for name, value in [
            ("PORT", "0"), ("PORT", "80"), ("PORT", "70000"), ("PORT", "http"),
            ("WEB_CONCURRENCY", "0"), ("WEB_CONCURRENCY", "-2"), ("WEB_CONCURRENCY", "1001"),
            ("WEB_CONCURRENCY", "1000000"), ("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud"),
            ("ACCESS_LOG", "yes"),
        ]
    ],
)  # fmt: skip
def test_a_bad_setting_stops_start_up_with_one_line(default_project, name, value):
    with pytest.raises(SystemExit) as stopped:
        gunicorn_settings(default_project, **{name: value})
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith(f"error: {name}={value!r} is not allowed; expected ")


def test_baked_projects_own_tests_pass(default_project):
    """The generated README's test command, run verbatim in a fresh bake."""
    (command,) = commands(default_project / "README.md", "Run the tests")
    output = shell(command, default_project)
    assert " passed" in output.splitlines()[-1] and "failed" not in output
