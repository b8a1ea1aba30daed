"""Fixtures and hooks: the Docker engine (required when CI is set), the template as a user's
clone holds it, images built once per set of answers."""

import os
import shutil
from pathlib import Path

import pytest

from helpers import (
    LABEL,
    TEMPLATE,
    add_whoami,
    bake,
    build,
    commands,
    commit_all,
    engine_problem,
    ids,
    remove_labelled,
    run,
    shell,
)

IN_CI = bool(os.environ.get("CI"))
_docker_outcomes: dict[str, int] = {}


@pytest.fixture(scope="session")
def docker_engine():
    """Skips container tests without a Docker engine; under CI that is a failure instead."""
    problem = engine_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the container tests, but {problem}")
        pytest.skip(problem)
    yield
    remove_labelled()


@pytest.fixture(scope="session")
def checkout(tmp_path_factory) -> Path:
    """A git repository with what a clone of this template holds: its tracked files and new
    files that are not ignored, as they are now, in one commit."""
    repo = tmp_path_factory.mktemp("clones") / "python-wsgi-template"
    listed = run(
        "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE
    )
    for name in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE / name
        if source.is_file():  # a tracked file may have been deleted
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    commit_all(repo, "template")
    return repo


@pytest.fixture
def default_project(cookies) -> Path:
    return bake(cookies)


@pytest.fixture(scope="session")
def developed(cookies_session) -> Path:
    """A bake set up for work on this machine as its README says, with its .venv: with every
    option that adds packages, so the venv holds all a bake may lock."""
    project = bake(cookies_session, database="postgres", metrics="yes")
    shell(commands(project / "README.md", "On this machine")[0], project)
    return project


@pytest.fixture(scope="session")
def image(docker_engine, cookies_session):
    """image(**answers) -> (tag, project): each set of answers is baked and built once.
    With whoami=True the bake gets code of a user's (helpers.add_whoami) and files that must
    stay out of the image: .env files and a cache."""
    built: dict[str, tuple[str, Path]] = {}

    def image_of(*, whoami: bool = False, **answers: str) -> tuple[str, Path]:
        key = ids({**answers, "whoami": whoami})
        if key not in built:
            project = bake(cookies_session, **answers)
            if whoami:
                add_whoami(project)
                for secret in (project / ".env", project / project.name / ".env.local"):
                    secret.write_text("SECRET=do-not-ship\n")
                (project / project.name / "__pycache__").mkdir()
                (project / project.name / "__pycache__" / "views.cpython-311.pyc").write_bytes(b"")
            tag = f"template-test-{LABEL.split('=')[1]}-{len(built)}:latest"
            build(project, tag)
            built[key] = tag, project
        return built[key]

    return image_of


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
