"""Shared helpers: bake projects, read what they generated."""

import json
import os
import re
import shutil
import sys
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


@pytest.fixture
def default_project(cookies) -> Path:
    return bake(cookies)
