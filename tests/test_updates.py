"""Template updates, with the generated README's commands: a baked project records its answers,
so cookiecutter can replay them and cruft can bring the project to a newer template commit."""

import json
import re
from pathlib import Path

import pytest

from helpers import PACKAGE, TEMPLATE, clone, commands, commit_all, cookiecutter, run, shell

HEADING = "Updating from the template"


@pytest.fixture
def template_repo(checkout, tmp_path):
    """A clone of the template, so the test can add commits to it."""
    return clone(checkout, tmp_path / "template")


@pytest.fixture
def project(template_repo, developed, tmp_path) -> Path:
    """A bake with answers of its own, and the tools its README's "Develop" block installs."""
    answers = ["port=8123", "workers=auto", "worker_class=gthread", "kubernetes=yes"]
    out = tmp_path / "out"
    baked = cookiecutter("--no-input", "-o", str(out), str(template_repo), *answers,
                         cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert baked.returncode == 0, baked.stdout + baked.stderr
    project = out / "python_wsgi_app"
    (project / ".venv").symlink_to(developed / ".venv")
    return project


def test_replay_of_recorded_answers_rebakes_the_same_project(project, template_repo):
    readme = (project / "docs" / "updating.md").read_text()
    (replay,) = re.findall(r"`(\.venv/bin/cookiecutter --replay-file [^`]+)`", readme)
    shell(replay, project, TEMPLATE=str(template_repo))
    (fresh,) = (project.parent / "fresh").iterdir()
    diff = run("diff", "-r", "--exclude=.venv", str(project), str(fresh), check=False)
    assert diff.returncode == 0, diff.stdout


def test_cruft_links_with_the_answers_checks_and_updates(project, template_repo):
    link, check, update = commands(project / "docs" / "updating.md", HEADING)
    commit_all(project, "my project")
    shell(link, project, TEMPLATE=str(template_repo))
    cruft = json.loads((project / ".cruft.json").read_text())
    v1 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()
    assert cruft["commit"] == v1
    recorded = json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]
    assert {k: cruft["context"]["cookiecutter"][k] for k in recorded} == recorded
    shell(check, project)

    # The user's change to a generated file.
    views = project / project.name / "views.py"
    views.write_text(views.read_text() + "\n\n# the user's own line\n")
    commit_all(project, "my project, linked and changed")

    # A newer template: a change to the same generated file, at its other end.
    template_views = template_repo / PACKAGE.relative_to(TEMPLATE) / "views.py"
    (old_doc,) = [
        line for line in template_views.read_text().splitlines() if line.startswith('"""')
    ]
    template_views.write_text(template_views.read_text().replace(old_doc, '"""The routes (v2)."""'))
    commit_all(template_repo, "template v2: the routes' docstring")
    v2 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()

    assert run("bash", "-c", check, cwd=project, check=False).returncode != 0  # out of date
    shell(f"{update} --skip-apply-ask", project)  # it would ask before applying the diff

    assert json.loads((project / ".cruft.json").read_text())["commit"] == v2
    merged = views.read_text()
    assert merged.startswith('"""The routes (v2)."""') and "# the user's own line" in merged
    shell(check, project)
