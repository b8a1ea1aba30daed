"""Answers: every bad one is refused with one line on stderr, exit status 1 and nothing left in
the output folder; every odd but valid one bakes a project whose files all still parse."""

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import CONTEXT, TEMPLATE, cookiecutter, outline, run, tool

LONG = "x" * 100_000

# Given on the command line: name=value after the template, as a user types them.
REFUSED_ON_COMMAND_LINE = [
    ("project_name", value)
    for value in ["", " ", " padded ", "two\nlines", "tab\there",
                  "escape \x1b[31mred", "line\u2028separator", "zero\u200bwidth"]
] + [
    ("project_slug", value)
    for value in ["", "-", "a/b", "../escape", "..", ".", "my app", "My_App", "1app", "_app",
                  "app_", "my__app", "my-app", "class", "import", "a" * 64, LONG, "café",
                  "app\n", "c:\\app", "app;rm"]
] + [
    ("description", value)
    for value in ["two\nlines", " leading", "trailing ", "bell\x07", "\t", LONG + "\n"]
] + [
    ("port", value)
    for value in ["", "abc", "0", "80", "1023", "65536", "70000", "-1", "6000.0", " 6000",
                  "0x1770", "６０００", "6e3", "06000", "99999999999999999999"]
] + [
    ("workers", value)
    for value in ["", "0", "-2", "many", "1001", "1000000", "AUTO", "auto ", "3.5", "٣", "03"]
] + [
    ("threads", value) for value in ["", "0", "1001", "abc", "-1", "4.0"]
] + [
    ("replicas", value) for value in ["", "0", "1001", "2147483648", "abc", "-1", "1e3"]
]  # fmt: skip

# Written into a replay file (cookiecutter --replay-file): any JSON value can arrive.
REFUSED_IN_REPLAY = [
    ("port", True), ("port", None), ("port", 6000.0), ("port", [6000]), ("port", {"n": 1}),
    ("port", 80), ("workers", 0), ("workers", True), ("workers", ["3"]), ("threads", None),
    ("threads", 10**6), ("replicas", 2**31), ("replicas", False), ("compose", "no"),
    ("compose", "yes"), ("compose", 1), ("compose", None), ("kubernetes", "false"),
    ("kubernetes", 0), ("python_version", "2.7"), ("python_version", "3.10"),
    ("python_version", "3.16"), ("python_version", ""), ("python_version", 3.11),
    ("python_version", None), ("worker_class", "eventlet"), ("worker_class", "SYNC"),
    ("worker_class", ""), ("worker_class", 1), ("project_name", 123), ("project_name", None),
    ("project_name", ["a"]), ("project_name", "nul\x00byte"),
    ("project_name", "carriage\rreturn"), ("project_slug", None),
    ("project_slug", 123), ("description", None), ("description", "nul\x00byte"),
]  # fmt: skip

# Accepted: odd but valid answers, several of them Markdown or HTML that must stay plain text.
MARKUP = [
    "<!-- open comment", "```", "~~~", "<script>alert(1)</script>", "# Heading", "- item",
    "+ item", "> quote", "---", "===", "| a | b |", "[x]: https://example.com", "*", "\\",
    "1. First", "&lt;escaped&gt;", "`code` and *emphasis*", "$(touch /tmp/pwned)",
]  # fmt: skip
ACCEPTED_ON_COMMAND_LINE = (
    [{"project_name": value, "project_slug": "markup"} for value in MARKUP]
    + [{"description": value} for value in MARKUP]
    + [
        {"project_name": 'O\'Brien "Quoted" App'},
        {"project_name": "Café 🐳 Ünïcödé", "kubernetes": "yes"},
        {"project_name": "a/b: with slash", "compose": "no"},
        {"project_name": LONG},  # the slug made from it is cut to 63 characters
        {"description": "x" * 10_000},
        {"project_slug": "a" * 63, "kubernetes": "yes"},
        {"project_slug": "a1_b2"},
        {"port": "1024", "kubernetes": "yes"},
        {"port": "65535"},
        {"workers": "1000", "threads": "1000", "worker_class": "gthread"},
        {"workers": "1", "threads": "1", "replicas": "1", "kubernetes": "yes"},
        {"replicas": "1000", "kubernetes": "yes"},
    ]
)
ACCEPTED_IN_REPLAY = [
    {"port": 8080, "workers": 3, "threads": 2, "replicas": 1},  # numbers, as people write JSON
    {"project_name": "{{ 7*7 }}", "description": "{% raw %}"},  # a replay is not rendered
    {"flavour": "an entry the template does not know"},
]
TEXT = ["project_name", "project_slug", "description"]
LINE = re.compile(r"error: (?P<name>\w+)=(?P<value>.+) is not allowed; expected (?P<allowed>.+)\.")


def short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text if len(text) <= 24 else f"{text[:16]}...{len(text)}")


def cases(pairs: list[tuple[str, object]]) -> list:
    """(name, value) parameters with ids naming both: `port:'abc'`."""
    return [pytest.param(name, value, id=f"{name}:{short(value)}") for name, value in pairs]


def answer_ids(answers: dict) -> str:
    return ",".join(f"{name}:{short(value)}" for name, value in answers.items())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    """The answers of a default bake as it records them: the base of every replay file."""
    home = tmp_path_factory.mktemp("recorded")
    cookiecutter("--no-input", "-o", str(home / "out"), str(TEMPLATE), cwd=home, home=home)
    (project,) = (home / "out").iterdir()
    return json.loads((project / ".cookiecutter.json").read_text("utf-8"))["cookiecutter"]


def replay_file(tmp_path: Path, recorded: dict, **changes) -> Path:
    replay = tmp_path / "answers.json"
    replay.write_text(json.dumps({"cookiecutter": {**recorded, **changes}}), "utf-8")
    return replay


def assert_refused(result: subprocess.CompletedProcess, out: Path, name: str, value) -> None:
    """Exit status 1, exactly one line on stderr naming the prompt, the value and what is
    allowed, and nothing in the output folder."""
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    match = LINE.fullmatch(line)
    assert match and match["name"] == name, line
    quoted = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    assert match["value"].startswith(quoted[:20]) and len(line) < 400, line
    assert not out.exists() or list(out.rglob("*")) == []


@pytest.mark.parametrize(("name", "value"), cases(REFUSED_ON_COMMAND_LINE))
def test_bad_answer_on_the_command_line_is_refused(tmp_path, name, value):
    out = tmp_path / "out"
    arguments = ["--no-input", "-o", str(out), str(TEMPLATE), f"{name}={value}"]
    assert_refused(cookiecutter(*arguments, cwd=tmp_path, home=tmp_path), out, name, value)


@pytest.mark.parametrize(("name", "value"), cases(REFUSED_IN_REPLAY))
def test_bad_answer_in_a_replay_file_is_refused(tmp_path, recorded, name, value):
    out = tmp_path / "out"
    replay = replay_file(tmp_path, recorded, **{name: value})
    arguments = ["--replay-file", str(replay), "-o", str(out), str(TEMPLATE)]
    assert_refused(cookiecutter(*arguments, cwd=tmp_path, home=tmp_path), out, name, value)


def shape(value):
    """The keys of a YAML document, all the way down; lists by their items' shapes."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None


def files_shape(project: Path) -> dict:
    """What must not change with text answers: every YAML file's keys, the README's outline
    (without the title, which is the project's name) and the file names."""
    headings, fences = outline(project / "README.md")
    return {
        # The package folder is named after the slug.
        "files": sorted(
            str(path.relative_to(project)).replace(project.name, "SLUG")
            for path in project.rglob("*")
        ),
        "yaml": {
            str(path.relative_to(project)): [
                shape(doc) for doc in yaml.safe_load_all(path.read_text())
            ]
            for path in [*project.rglob("*.yaml"), *project.rglob("*.yml")]
        },
        "readme": (headings[0][:2], headings[1:], fences),
    }


def assert_bake_parses(project: Path, reference: Path) -> None:
    for path in project.rglob("*.py"):
        compile(path.read_text("utf-8"), str(path), "exec")  # a syntax error raises here
    run(tool("hadolint"), str(project / "Dockerfile"))
    assert files_shape(project) == files_shape(reference)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """reference(answers): a bake with the same answers but the default text ones."""
    home = tmp_path_factory.mktemp("reference")
    bakes: dict[str, Path] = {}

    def of(answers: dict) -> Path:
        options = [f"{k}={v}" for k, v in answers.items() if k not in TEXT and k in CONTEXT]
        key = ",".join(options)
        if key not in bakes:
            out = home / f"bake{len(bakes)}"
            cookiecutter("--no-input", "-o", str(out), str(TEMPLATE), *options, cwd=home, home=home)
            (bakes[key],) = out.iterdir()
        return bakes[key]

    return of


@pytest.mark.parametrize("answers", ACCEPTED_ON_COMMAND_LINE, ids=answer_ids)
def test_odd_answer_on_the_command_line_bakes_files_that_parse(tmp_path, reference, answers):
    out = tmp_path / "out"
    arguments = [f"{name}={value}" for name, value in answers.items()]
    result = cookiecutter(
        "--no-input", "-o", str(out), str(TEMPLATE), *arguments, cwd=tmp_path, home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    (project,) = out.iterdir()
    assert_bake_parses(project, reference(answers))
    recorded = json.loads((project / ".cookiecutter.json").read_text("utf-8"))["cookiecutter"]
    for name, value in answers.items():
        assert recorded[name] == {"yes": True, "no": False}.get(value, value)


@pytest.mark.parametrize("answers", ACCEPTED_IN_REPLAY, ids=answer_ids)
def test_odd_answer_in_a_replay_file_bakes_files_that_parse(tmp_path, recorded, reference, answers):
    out = tmp_path / "out"
    replay = replay_file(tmp_path, recorded, **answers)
    arguments = ["--replay-file", str(replay), "-o", str(out), str(TEMPLATE)]
    result = cookiecutter(*arguments, cwd=tmp_path, home=tmp_path)
    assert result.returncode == 0, result.stderr
    (project,) = out.iterdir()
    assert_bake_parses(project, reference(answers))


def test_answers_given_on_the_command_line_are_rendered_by_jinja(tmp_path):
    """cookiecutter renders values given after the template (the README warns about it)."""
    out = tmp_path / "out"
    arguments = ["--no-input", "-o", str(out), str(TEMPLATE), "project_name=Area {{ 7*7 }}"]
    assert cookiecutter(*arguments, cwd=tmp_path, home=tmp_path).returncode == 0
    assert (out / "area_49" / "README.md").read_text("utf-8").startswith("# Area 49\n")


@pytest.mark.parametrize(
    ("name", "value"),
    [("python_version", "2.7"), ("worker_class", "eventlet"), ("compose", "maybe")],
)
def test_choice_outside_its_list_is_refused_by_cookiecutter_itself(tmp_path, name, value):
    """Choices and yes/no answers given on the command line are checked by cookiecutter before
    any template code runs: it fails with its own error naming the value (see README.md)."""
    out = tmp_path / "out"
    result = cookiecutter("--no-input", "-o", str(out), str(TEMPLATE), f"{name}={value}",
                          cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("ValueError: ") and value in last and name in last, last
    assert not out.exists()


def test_the_hook_knows_the_same_choices_as_cookiecutter_json():
    """The hook carries its own lists, so it works wherever cookiecutter runs it from."""
    hook = ast.parse((TEMPLATE / "hooks" / "pre_gen_project.py").read_text("utf-8"))
    constants = {
        target.id: ast.literal_eval(node.value)
        for node in hook.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in ("CHOICES", "YES_NO")
    }
    assert constants["CHOICES"] == {k: v for k, v in CONTEXT.items() if isinstance(v, list)}
    assert constants["YES_NO"] == [k for k, v in CONTEXT.items() if isinstance(v, bool)]


def test_an_existing_project_is_never_overwritten(tmp_path):
    out = tmp_path / "out"
    assert (
        cookiecutter(
            "--no-input", "-o", str(out), str(TEMPLATE), cwd=tmp_path, home=tmp_path
        ).returncode
        == 0
    )
    views = out / "python_wsgi_app" / "python_wsgi_app" / "views.py"
    views.write_text("# my work\n")
    result = cookiecutter(
        "--no-input", "-o", str(out), str(TEMPLATE), "port=8080", cwd=tmp_path, home=tmp_path
    )
    assert result.returncode == 1
    assert "already exists" in result.stdout
    assert views.read_text() == "# my work\n"
