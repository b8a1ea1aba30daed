"""Template updates: a baked project records its answers, so cookiecutter can replay them and
cruft can bring the project to a newer template commit."""

import json

import pytest

from helpers import TEMPLATE, cookiecutter, run, tool

GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid"]


@pytest.fixture
def template_repo(checkout, tmp_path):
    """A clone of the template, so the test can add commits to it."""
    run("git", "clone", "-q", str(checkout), str(tmp_path / "template"))
    return tmp_path / "template"


def test_replay_of_recorded_answers_rebakes_the_same_project(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    answers = ["port=8080", "workers=auto", "worker_class=gthread", "kubernetes=yes"]
    baked = cookiecutter(
        "--no-input", "-o", str(first), str(TEMPLATE), *answers, cwd=tmp_path, home=tmp_path
    )
    assert baked.returncode == 0, baked.stderr
    recorded = first / "python_wsgi_app" / ".cookiecutter.json"
    assert json.loads(recorded.read_text())["cookiecutter"]["port"] == "8080"

    replayed = cookiecutter("--replay-file", str(recorded), "-o", str(second), str(TEMPLATE),
                            cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    diff = run("diff", "-r", str(first), str(second), check=False)
    assert diff.returncode == 0, diff.stdout


def test_cruft_create_check_and_update(template_repo, tmp_path):
    out = tmp_path / "out"
    run(tool("cruft"), "create", "--no-input", "--output-dir", str(out), str(template_repo))
    project = out / "python_wsgi_app"
    v1 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == v1
    run(tool("cruft"), "check", cwd=project)

    # The user's project: under git, with a change of their own.
    run("git", "init", "-q", "-b", "main", cwd=project)
    with (project / "app.py").open("a") as app:
        app.write("\n\n# the user's own line\n")
    run("git", "add", "-A", cwd=project)
    run(*GIT, "commit", "-qm", "my project", cwd=project)

    # A newer template: a fix in a generated file.
    (folder,) = template_repo.glob("*cookiecutter.project_slug*")
    healthcheck = folder / "healthcheck.py"
    healthcheck.write_text(healthcheck.read_text().replace("timeout=2", "timeout=1"))
    run(*GIT, "commit", "-qam", "template v2: faster health check timeout", cwd=template_repo)
    v2 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()

    assert run(tool("cruft"), "check", cwd=project, check=False).returncode != 0  # out of date
    run(tool("cruft"), "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)

    assert json.loads((project / ".cruft.json").read_text())["commit"] == v2
    assert "timeout=1" in (project / "healthcheck.py").read_text()
    assert "# the user's own line" in (project / "app.py").read_text()
    run(tool("cruft"), "check", cwd=project)
