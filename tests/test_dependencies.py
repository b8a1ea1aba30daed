"""Dependencies: requirements.txt locks the whole tree with hashes for every offered Python; the
README's command keeps it fresh; the image refuses a file whose hash differs from the lock's."""

import hashlib
import re
import sys
from pathlib import Path

import pytest

from helpers import LABEL, bake, choices, commands, ids, locked, run, shell
from tools.locks import VARIANTS

LOCKS = ["requirements.txt", "requirements-dev.txt"]


def read(project: Path) -> dict[str, str]:
    return {name: (project / name).read_text() for name in LOCKS}


FRESHNESS = [{"python_version": python} for python in choices("python_version")] + [
    variant for variant in VARIANTS if variant != {"database": "none", "metrics": "no"}
]


@pytest.mark.parametrize("answers", FRESHNESS, ids=ids)
def test_the_readme_command_finds_the_locks_fresh(developed, cookies, answers):
    """The same locks serve every Python on offer, and each answer that adds requirements gets
    its own (the template's locks are Jinja, tools/locks.py): refreshing them for this bake,
    with the README's command, changes nothing."""
    project = bake(cookies, **answers)
    (project / ".venv").symlink_to(developed / ".venv")  # the tools of README's "Develop"
    locked = read(project)
    shell(commands(project / "README.md", "Dependencies")[0], project)
    assert read(project) == locked


def test_the_readme_command_follows_an_edited_input(developed, cookies):
    """So the check above can fail: after an edit to requirements.in the lock changes."""
    project = bake(cookies)
    (project / ".venv").symlink_to(developed / ".venv")
    locked = read(project)
    with (project / "requirements.in").open("a") as inputs:
        inputs.write("six==1.17.0\n")  # a package the lock does not hold yet
    shell(commands(project / "README.md", "Dependencies")[0], project)
    assert read(project)["requirements.txt"] != locked["requirements.txt"]


def test_the_lock_pins_every_package_with_its_hashes(default_project):
    lock = locked(default_project)
    # What Flask and Gunicorn need, below the two the app names in requirements.in.
    assert {"flask", "gunicorn", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
            "blinker"} <= set(lock)  # fmt: skip
    assert all(hashes for _, hashes in lock.values())
    lines = (default_project / "requirements.txt").read_text().splitlines()
    assert len([line for line in lines if re.match(r"\w", line)]) == len(lock)  # all pinned


@pytest.mark.docker
def test_a_changed_hash_fails_the_build(docker_engine, cookies, tmp_path):
    """The hash of the wheel the image installs for flask, changed in the lock: no image."""
    project = bake(cookies)
    version = re.search(r"^flask==(\S+)", (project / "requirements.txt").read_text(), re.MULTILINE)[
        1
    ]
    run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "-d", str(tmp_path), f"flask=={version}")  # fmt: skip
    (wheel,) = tmp_path.glob("flask-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = project / "requirements.txt"
    assert f"--hash=sha256:{digest}" in lock.read_text()
    lock.write_text(lock.read_text().replace(digest, "0" * 64))

    result = run("docker", "build", "--label", LABEL, str(project), check=False, timeout=900)
    assert result.returncode != 0
    assert re.search(r"hash mismatch", result.stdout + result.stderr, re.IGNORECASE), result.stderr[
        -2000:
    ]
