"""Hooks: bad answers are refused with one clear line and leave nothing behind; odd but valid
names bake safely; an existing project is never overwritten."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException, OutputDirExistsException

from conftest import TEMPLATE, bake

REFUSED = [
    ("port", "abc", "an integer from 1 to 65535"),
    ("port", "0", "an integer from 1 to 65535"),
    ("port", "70000", "an integer from 1 to 65535"),
    ("port", "", "an integer from 1 to 65535"),
    ("workers", "0", "a positive integer, or 'auto'"),
    ("workers", "-2", "a positive integer, or 'auto'"),
    ("workers", "many", "a positive integer, or 'auto'"),
    ("threads", "0", "a positive integer"),
    ("project_slug", "../escape", "lowercase letters, digits and single underscores"),
    ("project_slug", "my app", "lowercase letters, digits and single underscores"),
    ("project_slug", "My_App", "lowercase letters, digits and single underscores"),
    ("project_slug", "class", "not a Python keyword"),
    ("project_name", "", "a non-empty name on one line"),
    ("project_name", "two\nlines", "a non-empty name on one line"),
    # A name with nothing to make a slug from: the user is asked for a slug.
    ("project_slug", "-", "lowercase letters, digits and single underscores"),
]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(("name", "value", "allowed"), REFUSED)
def test_bad_answer_is_refused_and_nothing_is_written(cookies, capfd, name, value, allowed):
    result = cookies.bake(extra_context={name: value})

    assert isinstance(result.exception, FailedHookException)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {name}={value!r} is not allowed; expected {errors[0].split('expected ', 1)[1]}"
    ]
    assert allowed in errors[0]
    # Output folders live in <tmp>/cookies/bakeNN; a "../" slug would land in <tmp>/cookies.
    cookies_root = Path(cookies._output_factory("probe")).parent
    assert tree(cookies_root) == ["bake00", "probe"]


def test_unknown_python_is_refused_before_generation(cookies):
    """cookiecutter itself checks a choice given on its command line, naming value and choices."""
    result = cookies.bake(extra_context={"python_version": "2.7"})
    assert isinstance(result.exception, ValueError)
    assert "2.7 provided for choice variable python_version" in str(result.exception)
    assert "'3.11'" in str(result.exception)


def test_unknown_python_in_a_replay_file_is_refused_by_the_hook(tmp_path):
    """A replay file skips cookiecutter's choice check; the hook still refuses the value."""
    replay = tmp_path / "replay.json"
    context = {k: v for k, v in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()}
    context.update(project_slug="python_wsgi_app", python_version="2.7")
    context.update(worker_class="sync")
    replay.write_text(json.dumps({"cookiecutter": context}))
    out = tmp_path / "out"
    run = cookiecutter_cli("--replay-file", str(replay), "-o", str(out))
    assert run.returncode != 0
    assert "error: python_version='2.7' is not allowed; expected one of 3.11, 3.12" in run.stderr
    assert not out.exists() or tree(out) == []


def cookiecutter_cli(*options: str, answers: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run cookiecutter as a user would, answers given as key=value after the template."""
    command = [sys.executable, "-m", "cookiecutter", *options, str(TEMPLATE), *answers]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


def test_command_line_refusal_is_one_line(tmp_path):
    """On stderr, the hook's line and nothing else (cookiecutter logs its own report to stdout)."""
    run = cookiecutter_cli("--no-input", "-o", str(tmp_path), answers=("port=70000",))
    assert run.returncode == 1
    expected = "error: port='70000' is not allowed; expected an integer from 1 to 65535."
    assert run.stderr.splitlines() == [expected]
    assert tree(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ('O\'Brien "Quoted" App', "o_brien_quoted_app"),
        ("Back\\slash and ; semicolon", "back_slash_and_semicolon"),
        ("a/b: with slash", "a_b_with_slash"),
        ("Café 🐳 Ünïcödé", "cafe_unicode"),
        ('""" triple """ </script>', "triple_script"),
    ],
)
def test_odd_names_bake_safely(cookies, name, slug):
    project = bake(cookies, project_name=name, description=f"About {name}")
    assert project.name == slug
    readme = (project / "README.md").read_text("utf-8")
    assert readme.startswith(f"# {name}\n") and f"About {name}" in readme
    subprocess.run([sys.executable, "-m", "py_compile", str(project / "app.py")], check=True)


def test_existing_project_is_never_overwritten(tmp_path):
    assert cookiecutter_cli("--no-input", "-o", str(tmp_path)).returncode == 0
    app = tmp_path / "python_wsgi_app" / "app.py"
    app.write_text("# my work\n")

    run = cookiecutter_cli("--no-input", "-o", str(tmp_path), answers=("port=8080",))
    assert run.returncode != 0
    assert "already exists" in run.stdout + run.stderr
    assert app.read_text() == "# my work\n"


def test_existing_project_is_never_overwritten_by_the_api(cookies):
    first = bake(cookies)
    with pytest.raises(OutputDirExistsException):
        from cookiecutter.main import cookiecutter

        cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(first.parent))
