"""Rendering: what a bake writes, for the defaults and across the whole prompt matrix."""

import json
import os
import re
import runpy
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import MESSAGE, TEMPLATE, bake, choices, dockerfile_cmd, ids, matrix, tool

PORTS = [{"port": "6000"}, {"port": "8080"}]
WORKERS = [{"workers": "1"}, {"workers": "3"}, {"workers": "auto"}]
# Every worker class, and gthread with more than one thread count.
WORKER_OPTIONS = [
    {"worker_class": "sync", "threads": "4"},
    {"worker_class": "gthread", "threads": "2"},
    {"worker_class": "gthread", "threads": "8"},
]
# compose x kubernetes, each with its own replica count.
DEPLOY_OPTIONS = [
    {"compose": compose, "kubernetes": kubernetes, "replicas": replicas}
    for compose, kubernetes, replicas in [
        ("no", "no", "2"),
        ("yes", "no", "1"),
        ("no", "yes", "3"),
        ("yes", "yes", "2"),
    ]
]
PYTHONS = [{"python_version": version} for version in choices("python_version")]
MATRIX = matrix(PYTHONS, PORTS, WORKERS, WORKER_OPTIONS, DEPLOY_OPTIONS)


def settings(project: Path, **environ: str) -> dict:
    """Gunicorn's settings as its config file computes them, with this environment."""
    saved = dict(os.environ)
    os.environ.update(environ)
    try:
        return runpy.run_path(str(project / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_default_bake_is_the_seed_without_its_defects(default_project):
    files = sorted(str(p.relative_to(default_project)) for p in default_project.rglob("*"))
    assert default_project.name == "python_wsgi_app"
    assert {"app.py", "requirements.txt", "Dockerfile", ".dockerignore", "README.md"} <= set(files)

    app = (default_project / "app.py").read_text("utf-8")
    assert f'return "{MESSAGE}"' in app

    requirements = (default_project / "requirements.txt").read_text().split()
    pins = dict(line.split("==") for line in requirements)
    # gunicorn is pinned in requirements.txt, not installed by a separate pip call.
    assert set(pins) == {"flask", "gunicorn"}
    assert pins["flask"] != "3.0.0"

    dockerfile = (default_project / "Dockerfile").read_text()
    assert re.findall(r"^FROM (.*)$", dockerfile, re.MULTILINE) == [
        "python:3.11 AS build",
        "python:3.11-slim",
    ]
    # The seed's inline "# comment" after COPY became extra COPY arguments.
    for line in dockerfile.splitlines():
        assert line.startswith("#") or " #" not in line, line
    assert 'ENV PATH="/opt/venv/bin:$PATH"' in dockerfile  # venv first, not appended
    assert "COPY --from=build /opt/venv /opt/venv" in dockerfile
    assert "EXPOSE 6000" in dockerfile
    assert dockerfile_cmd(default_project)[0] == "gunicorn"

    config = settings(default_project)
    assert config["bind"] == ["0.0.0.0:6000"]
    assert config["workers"] == 3
    assert config["worker_class"] == "sync"
    assert "threads" not in config  # threads > 1 would silently turn sync into gthread
    assert config["preload_app"] is True and callable(config["pre_fork"])


def test_requirements_come_before_the_code(default_project):
    """A code-only change must reuse the dependency layer: requirements are copied and installed
    in the build stage, and the app's code only in the runtime stage."""
    dockerfile = (default_project / "Dockerfile").read_text()
    build, runtime = dockerfile.split("\nFROM ", 2)[1:]
    assert "COPY requirements.txt" in build and " install --no-cache-dir" in build
    assert "COPY . ." in runtime and "COPY . ." not in build


def test_dockerignore_admits_only_runtime_files(default_project):
    lines = [
        line
        for line in (default_project / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:] for line in lines[1:]}
    assert admitted == {"app.py", "gunicorn.conf.py", "healthcheck.py", "requirements.txt"}
    assert all((default_project / name).is_file() for name in admitted)


def test_readme_speaks_of_this_bake(default_project):
    readme = (default_project / "README.md").read_text("utf-8")
    assert "docker build -t python-wsgi-app ." in readme
    assert "-p 6000:6000 python-wsgi-app" in readme
    assert "curl http://localhost:6000/" in readme
    assert "ERR_UNSAFE_PORT" in readme and "-p 8080:6000" in readme
    assert "0.0.0.0" in readme and "WSGI" in readme and "ASGI" in readme
    assert "Gunicorn starts 3 worker processes" in readme


@pytest.mark.parametrize("answers", MATRIX, ids=ids)
def test_matrix_bake(cookies, answers):
    project = bake(cookies, **answers)

    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            assert "{{" not in text and "{%" not in text, f"unrendered Jinja in {path.name}"
            if path.suffix == ".py":
                compile(text, str(path), "exec")  # a syntax error raises here

    subprocess.run([tool("ruff"), "check", "--no-cache", str(project)], check=True)
    subprocess.run([tool("ruff"), "format", "--check", "--no-cache", str(project)], check=True)
    subprocess.run([tool("hadolint"), str(project / "Dockerfile")], check=True)

    dockerfile = (project / "Dockerfile").read_text()
    py = answers["python_version"]
    assert f"FROM python:{py} AS build" in dockerfile
    assert f"FROM python:{py}-slim" in dockerfile
    assert f"EXPOSE {answers['port']}" in dockerfile
    assert f'target-version = "py{py.replace(".", "")}"' in (project / "pyproject.toml").read_text()

    config = settings(project)
    assert config["bind"] == [f"0.0.0.0:{answers['port']}"]
    assert config["worker_class"] == answers["worker_class"]
    assert config.get("threads", 1) == (
        int(answers["threads"]) if answers["worker_class"] == "gthread" else 1
    )
    if answers["workers"] == "auto":
        assert config["workers"] == 2 * config["available_cpus"]() + 1
    else:
        assert config["workers"] == int(answers["workers"])
        assert "available_cpus" not in config

    readme = (project / "README.md").read_text("utf-8")
    assert f"-p {answers['port']}:{answers['port']}" in readme
    assert ("ERR_UNSAFE_PORT" in readme) == (answers["port"] == "6000")
    assert ("## Docker Swarm" in readme) == (answers["compose"] == "yes")
    assert ("## Kubernetes" in readme) == (answers["kubernetes"] == "yes")
    assert "\n\n## Run the tests\n" in readme

    # Optional files exist exactly when chosen, and say what was chosen.
    compose = project / "compose.yaml"
    assert compose.exists() == (answers["compose"] == "yes")
    if compose.exists():
        service = yaml.safe_load(compose.read_text())["services"]["web"]
        assert service["ports"] == [f"{answers['port']}:{answers['port']}"]
        assert service["deploy"]["replicas"] == int(answers["replicas"])
        assert service["deploy"]["update_config"]["order"] == "start-first"
    manifests = project / "k8s" / "app.yaml"
    assert manifests.exists() == (answers["kubernetes"] == "yes")
    if manifests.exists():
        deployment = next(yaml.safe_load_all(manifests.read_text()))
        assert deployment["spec"]["replicas"] == int(answers["replicas"])
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["ports"][0]["containerPort"] == int(answers["port"])

    recorded = json.loads((project / ".cookiecutter.json").read_text("utf-8"))["cookiecutter"]
    for name, value in answers.items():
        assert str(recorded[name]).lower() in (value, "true" if value == "yes" else "false")


def test_auto_workers_follow_the_cpus_this_process_may_use(cookies):
    project = bake(cookies, workers="auto")
    affinity = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(affinity)})
        assert settings(project)["workers"] == 3  # 2 x 1 CPU + 1, whatever the host has
    finally:
        os.sched_setaffinity(0, affinity)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PORT": "9000"}, ("bind", ["0.0.0.0:9000"])),
        ({"WEB_CONCURRENCY": "7"}, ("workers", 7)),
    ],
)
def test_environment_overrides(default_project, environ, expected):
    key, value = expected
    assert settings(default_project, **environ)[key] == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "70000"),
        ("PORT", "http"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "-2"),
    ],
)
def test_bad_environment_stops_startup_with_one_line(default_project, name, value):
    with pytest.raises(SystemExit) as stopped:
        settings(default_project, **{name: value})
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith(f"gunicorn.conf.py: {name}={value!r} is not allowed; expected ")


def test_python_choices_are_supported_releases():
    """Every offered Python has official python:X.Y and X.Y-slim images and security support."""
    assert choices("python_version")[0] == "3.11"  # the seed's, and the default
    assert choices("python_version") == ["3.11", "3.12", "3.13", "3.14", "3.15"]


def test_hooks_and_tests_pass_ruff():
    # The project folder is linted as baked (above): unrendered, it is Jinja, not Python.
    python_dirs = [TEMPLATE / "hooks", TEMPLATE / "tests"]
    subprocess.run([tool("ruff"), "check", "--no-cache", *map(str, python_dirs)], check=True)
