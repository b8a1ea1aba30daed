"""Shared helpers: bake projects, read what they generated."""

import itertools
import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text("utf-8"))
MESSAGE = "Hello from Docker! 🐳"


def tool(name: str) -> str:
    """A command installed beside this Python (the test venv need not be activated)."""
    path = shutil.which(
        name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    assert path, f"{name} is not installed: pip install -r requirements-dev.txt"
    return path


def choices(name: str) -> list[str]:
    return DEFAULTS[name]


def matrix(*axes: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every combination of the axes' values, each combination merged into one answers dict."""
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)]


def ids(answers: dict[str, str]) -> str:
    return "-".join(answers.values())


def bake(cookies, **answers) -> Path:
    """Bake with these answers (strings, as a user types them); fail the test on any error."""
    result = cookies.bake(extra_context=answers)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return result.project_path


def dockerfile_cmd(project: Path) -> list[str]:
    """The exec-form CMD of the project's Dockerfile, as Docker would run it."""
    match = re.search(r"^CMD (\[.*\])$", (project / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "Dockerfile has no exec-form CMD"
    return json.loads(match.group(1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """The first truthy value of condition(), retried while it fails or is falsy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def default_project(cookies) -> Path:
    return bake(cookies)


# Container tests: skipped without a Docker engine, except under CI, where a skip is an error.
IN_CI = bool(os.environ.get("CI"))
_docker_outcomes: dict[str, int] = {}


@pytest.fixture(scope="session")
def docker_engine():
    from dockerutil import dangling_images, engine_problem, remove_created

    problem = engine_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the container tests, but {problem}")
        pytest.skip(problem)
    before = dangling_images()
    yield
    remove_created(before)


def pytest_runtest_logreport(report):
    if "docker" in report.keywords and (report.when == "call" or report.outcome != "passed"):
        _docker_outcomes[report.outcome] = _docker_outcomes.get(report.outcome, 0) + 1


def pytest_sessionfinish(session):
    if IN_CI and _docker_outcomes.get("skipped"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_docker_outcomes.items()))
    terminalreporter.write_line(f"container tests: {counts or 'none run'}")
    if IN_CI and _docker_outcomes.get("skipped"):
        terminalreporter.write_line("error: CI is set and container tests were skipped", red=True)
