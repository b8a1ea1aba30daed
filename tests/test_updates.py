"""Template updates. A bake records the template's address and commit; the project's
update_template.py, run with the commands of its docs/updating.md, brings it to a newer template
commit with git's three-way merge; the weekly workflow turns that into one pull request. All of
it against a git repository of the template with two tagged commits, vA (the template as it is)
and vB, which changes two files, adds one, removes one and asks a new question."""

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import (
    TEMPLATE_PROJECT,
    bake,
    clone,
    commands,
    commit_all,
    cookiecutter,
    run,
    shell,
)
from hooks.answers import public

ANSWERS = ["port=8123", "workers=auto", "worker_class=gthread", "kubernetes=yes"]
DOCS = Path("docs/updating.md")
HEADING = "Updating from the template"
# Who commits in the projects under test.
IDENTITY = {
    "GIT_AUTHOR_NAME": "A User", "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "A User", "GIT_COMMITTER_EMAIL": "user@example.invalid",
}  # fmt: skip
# vB's changes to files of vA: (file in the project, text in vA, text in vB).
VIEWS = ("python_wsgi_app/views.py", '"""The routes. ', '"""The routes, as of vB. ')
HEALTHCHECK = ("healthcheck.py", '"""Container health check', '"""The health check of vB')
ADDED, REMOVED = "NOTICE", "develop.py"
NEW_QUESTION = ("license", "MIT")


def in_template(name: str) -> Path:
    """Where a project's file is in the template's folder (the package is named by Jinja)."""
    return Path(TEMPLATE_PROJECT.name, name.replace("python_wsgi_app", TEMPLATE_PROJECT.name))


def config(home: Path) -> str:
    """cookiecutter's config, as helpers.cookiecutter writes it: clones and replays in home."""
    path = home / "cookiecutter.yaml"
    if not path.exists():
        path.write_text(f"cookiecutters_dir: {home / 'clones'}\nreplay_dir: {home / 'replay'}\n")
    return str(path)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Where cookiecutter keeps its clones and replays, and its config."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def environ(home) -> dict:
    """The environment the update runs in: the user's git identity, and cookiecutter's config
    of these tests (it would otherwise read the config in ~)."""
    return {**os.environ, **IDENTITY, "COOKIECUTTER_CONFIG": config(home)}


@pytest.fixture(scope="module")
def versions(checkout, tmp_path_factory) -> dict:
    """The template as a git repository: vA, then vB. {"repo": its path, "vA": sha, "vB": sha,
    "address": its git address}."""
    repo = clone(checkout, tmp_path_factory.mktemp("versions"))
    run("git", "tag", "vA", cwd=repo)
    for name, old, new in (VIEWS, HEALTHCHECK):
        path = repo / in_template(name)
        assert path.read_text().count(old) == 1
        path.write_text(path.read_text().replace(old, new))
    (repo / in_template(ADDED)).write_text("License: {{ cookiecutter.license }}\n")
    (repo / in_template(REMOVED)).unlink()
    context = (repo / "cookiecutter.json").read_text()
    question = f'  "{NEW_QUESTION[0]}": "{NEW_QUESTION[1]}",\n'
    (repo / "cookiecutter.json").write_text(
        context.replace('  "_extensions"', question + '  "_extensions"')
    )
    commit_all(repo, "vB")
    run("git", "tag", "vB", cwd=repo)
    sha = {tag: run("git", "rev-parse", tag, cwd=repo).stdout.strip() for tag in ("vA", "vB")}
    return {"repo": repo, "address": f"git+file://{repo}", **sha}


def generate(versions: dict, home: Path, into: Path, *options: str, address: str = "") -> Path:
    """A project generated with ANSWERS, committed in a git repository of its own."""
    out = into / "out"
    baked = cookiecutter("--no-input", *options, "-o", str(out), address or versions["address"],
                         *ANSWERS, cwd=into, home=home)  # fmt: skip
    assert baked.returncode == 0, baked.stdout + baked.stderr
    (project,) = out.iterdir()
    commit_all(project, "generated")
    return project


@pytest.fixture(scope="module")
def generated(versions, home, tmp_path_factory) -> Path:
    """The project generated from vA by the template's git address."""
    return generate(versions, home, tmp_path_factory.mktemp("generated"), "--checkout", "vA")


@pytest.fixture(scope="module")
def fresh(versions, home, tmp_path_factory) -> Path:
    """A fresh bake of vB with the same answers, committed."""
    return generate(versions, home, tmp_path_factory.mktemp("fresh"), "--checkout", "vB")


def users_copy(project: Path, into: Path) -> Path:
    """The user's clone of a generated project, with the tools (this Python's venv, which
    holds cookiecutter, as the project's .venv)."""
    copy = clone(project, into)
    (copy / ".venv").symlink_to(Path(sys.prefix))
    return copy


def update(project: Path, environ: dict, *arguments: str) -> subprocess.CompletedProcess:
    return run(".venv/bin/python", "update_template.py", *arguments, cwd=project, env=environ,
               check=False)  # fmt: skip


def record(project: Path) -> dict:
    return json.loads((project / ".cookiecutter.json").read_text())


def head(project: Path, what: str = "HEAD") -> str:
    return run("git", "rev-parse", what, cwd=project).stdout.strip()


def clean(project: Path) -> bool:
    return run("git", "status", "--porcelain", "--untracked-files=all", cwd=project).stdout == ""


@pytest.fixture(scope="module")
def updated(generated, environ, tmp_path_factory) -> tuple[Path, list[str]]:
    """The project, untouched since it was generated, updated with the docs' commands run
    verbatim: (the project, each command's output)."""
    project = users_copy(generated, tmp_path_factory.mktemp("updated"))
    return project, [shell(line, project, **environ) for line in commands(project / DOCS, HEADING)]


def test_a_bake_records_the_templates_address_and_commit(generated, versions):
    assert record(generated)["template"] == {
        "address": versions["address"],
        "commit": versions["vA"],
    }


def test_the_docs_commands_update_an_untouched_project(updated, versions):
    project, (output, shown) = updated
    vA, vB = versions["vA"][:12], versions["vB"][:12]
    lines = output.splitlines()
    assert lines[:2] == [
        f"Updating from {versions['address']}: {vA}..{vB}",
        f'New answer: {NEW_QUESTION[0]} = "{NEW_QUESTION[1]}" (its default)',
    ]
    assert lines[2].startswith("Updated in commit ") and len(lines) == 3
    assert f"Update from the template: {vA}..{vB}" in shown  # git show --stat
    for name in (ADDED, REMOVED, VIEWS[0], HEALTHCHECK[0], ".cookiecutter.json"):
        assert f" {name} " in shown, name
    assert record(project)["template"] == {"address": versions["address"], "commit": versions["vB"]}
    assert clean(project)


def test_an_untouched_project_updated_is_a_fresh_bake_of_the_newer_template(updated, fresh):
    """Byte for byte, file modes included: the same git tree (the recorded commit too)."""
    project, _ = updated
    assert head(project, "HEAD^{tree}") == head(fresh, "HEAD^{tree}")


def test_a_second_run_does_nothing_and_says_so(updated, environ, versions):
    project, _ = updated
    before = head(project)
    result = update(project, environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"Up to date with {versions['address']} at {versions['vB'][:12]}: nothing to do.\n"
    )
    assert head(project) == before and clean(project)


def test_the_users_edits_are_kept_merged_or_reported_and_their_own_file_is_untouched(
    generated, environ, versions, tmp_path
):
    """One edit in a file vB leaves alone, one in a file vB changes at other lines, one at the
    lines vB changes, and a file of the user's."""
    project = users_copy(generated, tmp_path)
    settings, views, healthcheck = (project / name for name in
                                    ("serving/settings.py", VIEWS[0], HEALTHCHECK[0]))  # fmt: skip
    settings.write_text(settings.read_text() + "# the user's setting\n")
    views.write_text(views.read_text() + "# the user's route\n")
    healthcheck.write_text(healthcheck.read_text().replace(HEALTHCHECK[1], '"""The user\'s check'))
    (project / "NOTES.md").write_text("The user's notes.\n")
    commit_all(project, "the user's edits")
    before, mine = head(project), (project / "NOTES.md").stat()

    result = update(project, environ)
    print(result.stdout, result.stderr, sep="")  # the output, for -s
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("Conflict")] == [
        "Conflict: healthcheck.py (changed here and in the template)"
    ]
    assert "1 file with conflicts" in result.stdout and result.stderr == ""
    assert settings.read_text().endswith("# the user's setting\n")  # kept
    merged = views.read_text()
    assert merged.startswith(VIEWS[2]) and merged.endswith("# the user's route\n")  # merged
    conflicted = healthcheck.read_text()
    assert "<<<<<<<" in conflicted and '"""The user\'s check' in conflicted
    assert HEALTHCHECK[2] in conflicted
    assert (project / "NOTES.md").read_text() == "The user's notes.\n"  # never touched
    assert (project / "NOTES.md").stat().st_mtime_ns == mine.st_mtime_ns
    assert (project / ADDED).is_file() and not (project / REMOVED).exists()
    assert record(project)["template"]["commit"] == versions["vB"]
    assert head(project) == before  # nothing committed

    run("git", "reset", "--merge", cwd=project)  # as the output says, undoes the update
    assert clean(project) and settings.read_text().endswith("# the user's setting\n")


def test_a_file_the_user_changed_and_the_template_removed_is_kept_as_a_conflict(
    generated, environ, tmp_path
):
    project = users_copy(generated, tmp_path)
    removed = project / REMOVED
    removed.write_text(removed.read_text() + "# the user's line\n")
    commit_all(project, "the user's edit")
    result = update(project, environ)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Conflict: {REMOVED} (changed here, removed by the template)" in result.stdout
    assert removed.read_text().endswith("# the user's line\n")


def test_a_plain_folders_project_says_how_to_give_the_address_once(
    versions, home, environ, tmp_path
):
    """Generated from a copy of vA that is not a git clone: no address is recorded and the
    update says how to give it; given once, the update records it."""
    folder, archive = tmp_path / "python-wsgi-template", tmp_path / "vA.tar"
    run("git", "archive", "-o", str(archive), "vA", cwd=versions["repo"])
    shutil.unpack_archive(archive, folder)
    project = users_copy(generate(versions, home, tmp_path, address=str(folder)), tmp_path / "me")
    assert "template" not in record(project)

    told = update(project, environ)
    assert told.returncode == 2 and told.stdout == ""
    (line,) = told.stderr.splitlines()
    assert "--template" in line and "--from" in line and "docs/updating.md" in line
    given = update(project, environ, "--template", versions["address"], "--from", "vA")
    assert given.returncode == 0, given.stdout + given.stderr
    assert record(project)["template"] == {"address": versions["address"], "commit": versions["vB"]}
    assert (project / ADDED).is_file() and not (project / REMOVED).exists()


def test_a_url_with_credentials_is_recorded_without_them(versions, home, environ, tmp_path):
    """The URL with a user and a token leads to the template through git's url.insteadOf, as
    a server would; the address without them leads there too, as the user's credentials would
    let it."""
    secret = "https://someone:s3cret-token@example.invalid/python-wsgi-template.git"
    without = "https://example.invalid/python-wsgi-template.git"
    environ = {**environ, "GIT_CONFIG_COUNT": "2",
               "GIT_CONFIG_KEY_0": f"url.file://{versions['repo']}.insteadOf",
               "GIT_CONFIG_VALUE_0": secret,
               "GIT_CONFIG_KEY_1": f"url.file://{versions['repo']}.insteadOf",
               "GIT_CONFIG_VALUE_1": without}  # fmt: skip
    out = tmp_path / "out"
    baked = run(sys.executable, "-m", "cookiecutter", "--no-input", "--checkout", "vA", "-o",
                str(out), secret, *ANSWERS, cwd=tmp_path, env=environ, check=False)  # fmt: skip
    assert baked.returncode == 0, baked.stderr
    (project,) = out.iterdir()
    assert record(project)["template"] == {"address": without, "commit": versions["vA"]}
    for path in project.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes() and b"someone" not in path.read_bytes()

    commit_all(project, "generated")
    (project / ".venv").symlink_to(Path(sys.prefix))
    result = update(project, environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert record(project)["template"] == {"address": without, "commit": versions["vB"]}


def test_the_replay_of_the_recorded_answers_rebakes_the_same_project(
    fresh, versions, environ, tmp_path
):
    """The docs' fresh bake, of the template's default branch (vB) over a bake of vB; with a
    cookiecutter home of its own, where no earlier clone makes it ask before cloning again."""
    (replay,) = commands(fresh / DOCS, "Comparing with a fresh bake")
    assert replay.startswith(".venv/bin/cookiecutter")
    (fresh / ".venv").symlink_to(Path(sys.prefix))
    environ = {**environ, "TEMPLATE": versions["address"], "COOKIECUTTER_CONFIG": config(tmp_path)}
    run("bash", "-euo", "pipefail", "-c", replay, cwd=fresh, env=environ)
    (again,) = (fresh.parent / "fresh").iterdir()
    diff = run("diff", "-r", "--exclude=.venv", "--exclude=.git", str(fresh), str(again),
               check=False)  # fmt: skip
    assert diff.returncode == 0, diff.stdout


# The weekly workflow.


def jobs(project: Path) -> dict:
    return yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]


def test_only_the_pull_request_job_may_write_to_the_repository(cookies):
    """Its job alone may write, to the repository and its pull requests; the publish job's
    write to the container registry, on version tags, is the one other write."""
    project = bake(cookies)
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    assert workflow["permissions"] == {}
    writes = {
        name: {scope for scope, access in job.get("permissions", {}).items() if access != "read"}
        for name, job in workflow["jobs"].items()
    }
    assert {name: scopes for name, scopes in writes.items() if scopes} == {
        "template-pull-request": {"contents", "pull-requests"},
        "publish": {"packages"},
    }
    assert workflow["jobs"]["template-pull-request"]["permissions"] == {
        "contents": "write", "pull-requests": "write"
    }  # fmt: skip
    update_job, pull_request = (
        workflow["jobs"]["template"],
        workflow["jobs"]["template-pull-request"],
    )
    assert update_job["permissions"] == {"contents": "read"}
    assert pull_request["needs"] == "template"
    # The update job runs the docs' command; the writing job runs no code of the template's.
    (command, _) = commands(project / DOCS, HEADING)
    assert any(command in step.get("run", "") for step in update_job["steps"])
    runs = " ".join(step.get("run", "") for step in pull_request["steps"])
    assert "python" not in runs and "pip" not in runs
    assert [step["uses"].split("@")[0] for step in pull_request["steps"] if "uses" in step] == [
        "actions/checkout"
    ]


FAKE_GH = """#!/bin/sh
# gh as the workflow calls it: each call logged; the pull request open is $GH_OPEN, if any.
printf '%s\\n' "$*" >> "$GH_LOG"
if [ "$1 $2" = "pr list" ]; then printf '%s\\n' "$GH_OPEN"; fi
"""
BOT = {"GIT_AUTHOR_NAME": "github-actions[bot]", "GIT_COMMITTER_NAME": "github-actions[bot]",
       "GIT_AUTHOR_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
       "GIT_COMMITTER_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com"}  # fmt: skip


def test_the_weekly_jobs_push_one_branch_and_open_one_pull_request(
    generated, environ, versions, tmp_path
):
    """The update job's step and the pull-request job's step, run here by bash as the runner
    runs them (bash -e), with a conflict to commit, against a bare repository for GitHub and a
    stand-in for gh: the branch gets the update job's tree and one pull request is opened,
    naming the commits, with the update's output; run again, nothing is pushed or opened; with
    the pull request open and a commit of the user's on its branch, the branch is left alone;
    with the job's own commit there, the branch is replaced and the pull request edited."""
    origin = tmp_path / "origin" / generated.name  # the repository on GitHub
    run("git", "clone", "-q", "--bare", str(generated), str(origin))
    project = users_copy(origin, tmp_path / "update")
    healthcheck = project / HEALTHCHECK[0]
    healthcheck.write_text(healthcheck.read_text().replace(HEALTHCHECK[1], '"""The user\'s check'))
    commit_all(project, "the user's edit")
    run("git", "push", "-q", "origin", "HEAD:main", cwd=project)
    steps = {name: {step.get("id", step.get("name")): step for step in job["steps"]}
             for name, job in jobs(project).items()}  # fmt: skip
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "gh").write_text(FAKE_GH)
    (tmp_path / "bin" / "gh").chmod(0o755)
    runner = {**environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"),
              "PATH": f"{tmp_path / 'bin'}:{environ['PATH']}", "GH_LOG": str(tmp_path / "gh.log"),
              "GITHUB_SERVER_URL": "https://github.invalid", "GITHUB_REF_NAME": "main"}  # fmt: skip
    for name in IDENTITY:
        del runner[name]  # the steps set their own

    (tmp_path / "out").write_text("")
    run("bash", "-e", "-c", steps["template"]["update"]["run"], cwd=project, env=runner)
    outputs = dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())
    vA, vB = versions["vA"][:12], versions["vB"][:12]
    assert outputs["title"] == f"Update from the template: {vA}..{vB}"

    (step,) = [step for step in steps["template-pull-request"].values() if "run" in step]
    env = {**runner, **{key: value for key, value in step["env"].items() if "$" not in value},
           "GH_TOKEN": "token", "TITLE": outputs["title"], "PATCH": outputs["patch"],
           "REPORT": outputs["report"]}  # fmt: skip
    target = clone(origin, tmp_path / "pull-request")  # the job's checkout of main

    def pull_request_job(open_number: str = "") -> tuple[str, str]:
        """(gh's calls, the branch's commit) after the job, on a fresh checkout of main."""
        (tmp_path / "gh.log").write_text("")
        run("git", "reset", "-q", "--hard", "origin/main", cwd=target)
        run("bash", "-e", "-c", step["run"], cwd=target, env={**env, "GH_OPEN": open_number})
        return (tmp_path / "gh.log").read_text(), head(origin, "template-update")

    calls, pushed = pull_request_job()
    assert head(origin, "template-update^{tree}") == head(project, "HEAD^{tree}")
    assert calls.startswith("pr list") and calls.count("pr create --base main") == 1, calls
    assert f"--title {outputs['title']}" in calls
    assert "Conflict: healthcheck.py (changed here and in the template)" in calls

    calls, again = pull_request_job()
    assert again == pushed and "pr create" not in calls and "pr edit" not in calls

    resolved = commit_on(origin, "template-update", IDENTITY)  # the user resolves, on GitHub
    calls, kept = pull_request_job(open_number="7")
    assert kept == resolved and "pr edit" not in calls

    last_week = commit_on(origin, "template-update", BOT)  # an update since superseded
    calls, replaced = pull_request_job(open_number="7")
    assert head(origin, "template-update^{tree}") == head(project, "HEAD^{tree}")
    assert replaced != last_week and "pr edit 7 --title" in calls and "pr create" not in calls


def commit_on(repository: Path, branch: str, who: dict) -> str:
    """A commit by who on top of branch: one with no files, as different as can be."""
    environ = {**os.environ, **who}
    tree = run("git", "hash-object", "-w", "-t", "tree", "/dev/null", cwd=repository).stdout.strip()
    parent = head(repository, branch)
    commit = run("git", "commit-tree", tree, "-p", parent, "-m", "a commit", cwd=repository,
                 env=environ).stdout.strip()  # fmt: skip
    run("git", "update-ref", f"refs/heads/{branch}", commit, cwd=repository)
    return commit


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("https://someone:token@example.invalid/t.git", "https://example.invalid/t.git"),
        (
            "git+https://token@example.invalid:8443/t?private_token=x#a",
            "git+https://example.invalid:8443/t",
        ),
        ("ssh://git:password@example.invalid/t.git", "ssh://git@example.invalid/t.git"),
        ("git@example.invalid:owner/t.git", "git@example.invalid:owner/t.git"),
        ("gh:owner/t", "gh:owner/t"),
        ("git+file:///srv/t", "git+file:///srv/t"),
        ("/home/someone/t", "/home/someone/t"),
    ],
)
def test_addresses_are_recorded_without_credentials(given, recorded):
    """By the template's filter at generation, and by update_template.py for --template."""
    script = runpy.run_path(str(TEMPLATE_PROJECT / "update_template.py"))
    assert public(given) == script["public"](given) == recorded
