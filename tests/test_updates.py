"""Template updates: a baked project records its answers, so cookiecutter can replay them and
cruft can bring the project to a newer template commit."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import TEMPLATE, tool

GIT = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}


def run(*command: str, cwd, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=GIT, capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def template_repo(tmp_path):
    """A git copy of the template, so the test can add commits to it."""
    repo = tmp_path / "template"
    shutil.copytree(TEMPLATE, repo, ignore=shutil.ignore_patterns(".git", ".venv", "*cache*"))
    run("git", "init", "-q", "-b", "main", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "template v1", cwd=repo)
    return repo


def test_replay_of_recorded_answers_rebakes_the_same_project(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    cookiecutter = [sys.executable, "-m", "cookiecutter"]
    answers = ["port=8080", "workers=auto", "worker_class=gthread", "kubernetes=yes"]
    run(*cookiecutter, "--no-input", "-o", str(first), str(TEMPLATE), *answers, cwd=tmp_path)
    recorded = first / "python_wsgi_app" / ".cookiecutter.json"
    assert json.loads(recorded.read_text())["cookiecutter"]["port"] == "8080"

    run(
        *cookiecutter,
        "--replay-file",
        str(recorded),
        "-o",
        str(second),
        str(TEMPLATE),
        cwd=tmp_path,
    )
    diff = run("diff", "-r", str(first), str(second), cwd=tmp_path, check=False)
    assert diff.returncode == 0, diff.stdout


def test_cruft_create_check_and_update(template_repo, tmp_path):
    out = tmp_path / "out"
    run(
        tool("cruft"),
        "create",
        "--no-input",
        "--output-dir",
        str(out),
        str(template_repo),
        cwd=tmp_path,
    )
    project = out / "python_wsgi_app"
    v1 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == v1
    run(tool("cruft"), "check", cwd=project)

    # The user's project: under git, with a change of their own.
    run("git", "init", "-q", "-b", "main", cwd=project)
    with (project / "app.py").open("a") as app:
        app.write("\n\n# the user's own line\n")
    run("git", "add", "-A", cwd=project)
    run("git", "commit", "-qm", "my project", cwd=project)

    # A newer template: a fix in a generated file.
    healthcheck = template_repo / "{{cookiecutter.__project_dir}}" / "healthcheck.py"
    healthcheck.write_text(healthcheck.read_text().replace("timeout=2", "timeout=1"))
    run("git", "commit", "-qam", "template v2: faster health check timeout", cwd=template_repo)
    v2 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()

    assert run(tool("cruft"), "check", cwd=project, check=False).returncode != 0  # out of date
    run(tool("cruft"), "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)

    assert json.loads((project / ".cruft.json").read_text())["commit"] == v2
    assert "timeout=1" in (project / "healthcheck.py").read_text()
    assert "# the user's own line" in (project / "app.py").read_text()
    run(tool("cruft"), "check", cwd=project)
