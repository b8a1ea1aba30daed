"""Template updates: a baked project records its answers, so cookiecutter can replay them and
cruft can bring the project to a newer template commit."""

import json

import pytest

from helpers import TEMPLATE, clone, commit_all, cookiecutter, run, tool


@pytest.fixture
def template_repo(checkout, tmp_path):
    """A clone of the template, so the test can add commits to it."""
    return clone(checkout, tmp_path)


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

    # The user's project: under git, with a change of their own to a generated file.
    views = project / project.name / "views.py"
    views.write_text(views.read_text() + "\n\n# the user's own line\n")
    commit_all(project, "my project")

    # A newer template: a change to the same generated file, at its other end.
    (folder,) = template_repo.glob("*cookiecutter.project_slug*")
    template_views = folder / "{{cookiecutter.project_slug}}" / "views.py"
    old_doc = template_views.read_text().splitlines()[0]
    template_views.write_text(template_views.read_text().replace(old_doc, '"""The routes (v2)."""'))
    commit_all(template_repo, "template v2: the routes' docstring")
    v2 = run("git", "rev-parse", "HEAD", cwd=template_repo).stdout.strip()

    assert run(tool("cruft"), "check", cwd=project, check=False).returncode != 0  # out of date
    run(tool("cruft"), "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)

    assert json.loads((project / ".cruft.json").read_text())["commit"] == v2
    merged = views.read_text()
    assert merged.startswith('"""The routes (v2)."""') and "# the user's own line" in merged
    run(tool("cruft"), "check", cwd=project)
