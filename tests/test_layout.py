"""The layout a person who just baked a project reads: short files, each option in files of its
own, and one table of the settings the project reads."""

import re
from pathlib import Path

import pytest

from helpers import TEMPLATE, bake

EVERY_OPTION = {"compose": "yes", "kubernetes": "yes", "ci": "yes", "database": "postgres",
                "metrics": "yes", "workers": "auto", "worker_class": "gthread"}  # fmt: skip
# The files an option may change beside its own (the locks aside: tools/locks.py writes them
# from requirements.in). database: the image and its context, Gunicorn's start (migrations),
# the app factory, Compose, development, Kubernetes, CI's PostgreSQL, the README and the
# requirements. metrics: Gunicorn's hooks, Kubernetes' scrape annotations, the README and the
# requirements.
SHARED_FILES = {"database": 10, "metrics": 5}
LOCKS = {"requirements.txt", "requirements-dev.txt"}


def files(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and path.name != ".cookiecutter.json"  # it records every answer
    }


@pytest.mark.parametrize("option", SHARED_FILES)
def test_an_option_lives_in_files_of_its_own(cookies, option):
    """What an option changes, by baking with and without it (Kubernetes on in both, so its
    manifests count): files of its own, and few of the files every bake has."""
    answers = {"kubernetes": "yes", "database": "none", "metrics": "no"}
    without = files(bake(cookies, **answers))
    chosen = {"database": "postgres", "metrics": "yes"}[option]
    with_it = files(bake(cookies, **{**answers, option: chosen}))
    own = sorted(set(with_it) - set(without))
    shared = sorted(
        name for name in set(with_it) & set(without)
        if with_it[name] != without[name] and name not in LOCKS
    )  # fmt: skip
    print(f"{option}: {len(own)} files of its own {own}, {len(shared)} shared {shared}")
    assert not set(without) - set(with_it)
    assert len(shared) <= SHARED_FILES[option], shared


def test_gunicorn_conf_and_the_readme_stay_short(cookies):
    default = bake(cookies)
    every = bake(cookies, **EVERY_OPTION)
    lines = {name: len((project / "gunicorn.conf.py").read_text().splitlines())
             for name, project in (("default", default), ("every option", every))}  # fmt: skip
    print(f"gunicorn.conf.py lines: {lines}")
    assert lines["default"] <= 90 and lines["every option"] <= 140
    assert len((default / "README.md").read_text().splitlines()) <= 120


def test_no_line_of_python_holds_two_conditions():
    """One {% if %} a line at most in the template's Python, so each reads as the code it
    gives."""
    crowded = [
        f"{path.relative_to(TEMPLATE)}:{number}"
        for path in TEMPLATE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if len(re.findall(r"{%-?\s*if\b|\bif\b[^{}]*}}", line)) > 1
    ]
    assert not crowded


# How a bake reads its settings: Python's environment lookups and Gunicorn's own, and the
# ${NAME} of the Compose files. Names the project sets for itself are left out.
READS = re.compile(
    r'settings\.(?:read|from_file)\(\s*"(\w+)"|os\.environ(?:\.get)?[(\[]\s*"(\w+)"|"(\w+)" in os\.environ'
)
INTERNAL = {"PROMETHEUS_MULTIPROC_DIR", "CI"}


def table_names(page: Path) -> set[str]:
    """The variables a page's settings tables list (a row may name two)."""
    rows = re.findall(r"^\| (`[A-Z][^|]*) \|", page.read_text(), re.MULTILINE)
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_<>]*)`", row)}


def test_every_setting_read_is_in_one_table_and_every_row_is_read(cookies):
    """The settings tables (README.md for the image, each option's page for its own, and the
    stack's pages for Compose) against what the code and the Compose files read."""
    project = bake(cookies, **EVERY_OPTION)
    read = {
        name
        for path in project.rglob("*.py")
        if "tests" not in path.parts
        for groups in READS.findall(path.read_text())
        for name in groups
        if name
    } - INTERNAL
    # Gunicorn reads these itself; Flask's from_prefixed_env reads FLASK_*.
    read |= {"GUNICORN_CMD_ARGS", "FLASK_<NAME>"}
    docs = project / "docs"
    image = set().union(*(table_names(page) for page in (
        project / "README.md", docs / "database.md", docs / "metrics.md")))  # fmt: skip
    assert read == image

    # What the Compose files and the Caddyfile read (their comments aside), but SITE_ADDRESS,
    # which compose.yaml sets from DOMAIN.
    patterns = {"compose.yaml": r"\$\{(\w+)", "compose.https.yaml": r"\$\{(\w+)",
                "Caddyfile": r"\{\$(\w+)"}  # fmt: skip
    stack = {
        name
        for file, pattern in patterns.items()
        for line in (project / file).read_text().splitlines()
        if not line.lstrip().startswith("#")
        for name in re.findall(pattern, line)
    } - {"SITE_ADDRESS"}
    assert stack == table_names(docs / "compose.md") | table_names(docs / "https.md")
