"""Answers: every bad one is refused with one line on stderr, exit status 1 and nothing created,
changed or deleted; every odd but valid one bakes a project whose files all still parse and whose
README shows the text as typed. Re-running over a project never deletes a file."""

import hashlib
import html
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from helpers import (
    BUILDABLE_PYTHONS,
    CONTEXT,
    MESSAGE,
    TEMPLATE,
    Container,
    bake,
    cookiecutter,
    docker,
    outline,
    run,
    tool,
)
from hooks.answers import INSTALLED, OWN_NAMES, STANDARD_LIBRARY

LONG = "x" * 100_000

# Given on the command line: name=value after the template, as a user types them.
REFUSED_ON_COMMAND_LINE = [
    ("project_name", value)
    for value in ["", " ", " padded ", "two\nlines", "tab\there", "escape \x1b[31mred",
                  "line\u2028separator", "para\u2029graph", "\u202eright-to-left override",
                  "isolate\u2067", "nbsp\u00a0"]
] + [
    ("project_slug", value)
    for value in ["", "-", "a/b", "../escape", "..", ".", "my app", "My_App", "1app", "_app",
                  "app_", "my__app", "my-app", "class", "import", "a" * 64, LONG, "café",
                  "app\n", "c:\\app", "app;rm", "x/../..", "/abs/path", "a" * 5000,
                  # Modules of Python, the running one's and others' on offer (3.14, 3.15, or
                  # gone since 3.13), of the packages the locks install, and of the project.
                  "json", "annotationlib", "profiling", "cgi", "flask", "werkzeug", "pytest",
                  "pluggy", "iniconfig", "ruff", "yaml", "cookiecutter", "pip", "tests",
                  "conftest", "test_app", "healthcheck", "k8s", "dockerfile"]
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
    "1. First", "1) First", "1986. A great year.", "C#", "Ends in ##", "&lt;escaped&gt;",
    "`code` and *emphasis*", "_under_", "~~struck~~", "<https://example.com>",
    "$(touch /tmp/pwned)",
]  # fmt: skip
# One line of text in any script, with the invisible characters written text needs: the
# zero-width joiner of emoji sequences, the non-joiner of Persian, a soft hyphen, a tag
# sequence (a flag), a right-to-left mark, no-break and zero-width spaces.
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # a flag: tags
WRITTEN = [
    "👩\u200d💻 Developers", "می\u200cخواهم", "Hyphen\u00adated", f"England {ENGLAND}",
    "עברית\u200f (Hebrew)", "Café\u00a0Crème", "zero\u200bwidth",
]  # fmt: skip
ACCEPTED_ON_COMMAND_LINE = (
    [{"project_name": value, "project_slug": "markup"} for value in MARKUP + WRITTEN]
    + [{"description": value} for value in MARKUP + WRITTEN]
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


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under folder with a digest of its content and mode: two equal snapshots mean
    nothing was created, changed or deleted in between."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(
            (b"" if path.is_dir() else path.read_bytes()) + oct(path.stat().st_mode).encode()
        ).hexdigest()
        for path in folder.rglob("*")
    }


def refuse(*arguments: str, name: str, value, work: Path, home: Path, watch: Path | None = None):
    """cookiecutter run in work with these arguments: exit status 1, exactly one line on stderr
    naming the prompt, the value and what is allowed, and nothing created, changed or deleted
    in the folder watched (work unless told; cookiecutter's own replay file goes to home)."""
    watch = watch or work
    before = snapshot(watch)
    result = cookiecutter(*arguments, cwd=work, home=home)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    match = LINE.fullmatch(line)
    assert match and match["name"] == name, line
    quoted = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    assert match["value"].startswith(quoted[:20]) and len(line) < 400, line
    assert snapshot(watch) == before


@pytest.fixture
def home(tmp_path_factory) -> Path:
    """cookiecutter's config, replay files and clones: apart from the folders watched."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def work(tmp_path) -> Path:
    """The folder a user runs cookiecutter in, holding the output folder (new unless a test
    makes it) and a file of theirs."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("mine\n")
    return tmp_path / "work"


@pytest.mark.parametrize(("name", "value"), cases(REFUSED_ON_COMMAND_LINE))
def test_bad_answer_on_the_command_line_is_refused(work, home, name, value):
    arguments = ["--no-input", "-o", "out", str(TEMPLATE), f"{name}={value}"]
    refuse(*arguments, name=name, value=value, work=work, home=home)


@pytest.mark.parametrize(("name", "value"), cases(REFUSED_IN_REPLAY))
def test_bad_answer_in_a_replay_file_is_refused(tmp_path, work, home, recorded, name, value):
    replay = replay_file(tmp_path, recorded, **{name: value})
    arguments = ["--replay-file", str(replay), "-o", "out", str(TEMPLATE)]
    refuse(*arguments, name=name, value=value, work=work, home=home)


# Slugs that are paths, or too long for one: with the plain folder name, cookiecutter would
# create "out/x/../.." (out's parent) or "../" before any check, and remove it on refusal.
PATH_SLUGS = ["x/../..", "..", "/abs/path", "a/b", "a" * 5000]


@pytest.mark.parametrize("hooks", ["yes", "no"], ids=lambda v: f"accept-hooks:{v}")
@pytest.mark.parametrize("output", ["new", "existing"], ids=lambda v: f"output:{v}")
@pytest.mark.parametrize("slug", PATH_SLUGS, ids=short)
def test_a_slug_that_is_a_path_touches_nothing_anywhere(tmp_path, work, home, slug, output,
                                                       hooks):  # fmt: skip
    """Refused before cookiecutter creates any folder: the output folder new, or already holding
    projects (and a folder named as the old fallback, invalid_slug), with or without hooks."""
    if output == "existing":
        for folder in ("invalid_slug", "python_wsgi_app"):
            (work / "out" / folder).mkdir(parents=True)
            (work / "out" / folder / "README.md").write_text("mine\n")
    arguments = ["--no-input", "--accept-hooks", hooks, "-o", "out", str(TEMPLATE)]
    refuse(*arguments, f"project_slug={slug}", name="project_slug", value=slug, work=work,
           home=home, watch=tmp_path)  # fmt: skip


def test_a_bad_answer_over_an_existing_project_is_refused_not_already_there(work, home):
    """The answers are checked before cookiecutter looks for the project's folder."""
    assert (
        cookiecutter("--no-input", "-o", "out", str(TEMPLATE), cwd=work, home=home).returncode == 0
    )
    refuse("--no-input", "-o", "out", str(TEMPLATE), "port=80", name="port", value="80",
           work=work, home=home)  # fmt: skip
    refuse("--no-input", "-f", "-o", "out", str(TEMPLATE), "workers=0",
           name="workers", value="0", work=work, home=home)  # fmt: skip


def test_a_null_in_the_users_default_context_is_one_line(work, home):
    """cookiecutter makes the slug's default from the name before any check: a null name must
    not break that."""
    (home / "cookiecutter.yaml").write_text(
        f"replay_dir: {home / 'replay'}\ndefault_context:\n  project_name: null\n"
    )
    refuse("--no-input", "-o", "out", str(TEMPLATE), name="project_name", value=None,
           work=work, home=home)  # fmt: skip


def test_pytest_cookies_reports_a_refusal_as_a_failed_bake(cookies, tmp_path):
    result = cookies.bake(extra_context={"project_slug": ".."})
    assert isinstance(result.exception, SystemExit)
    assert str(result.exception).startswith("error: project_slug='..' is not allowed")
    # Only the empty output folder pytest-cookies made for the bake.
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [
        Path("cookies"),
        Path("cookies/bake00"),
    ]


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


def readme_shows(project: Path) -> tuple[str, str]:
    """The README's title and opening paragraph as a reader sees them, the Markdown rendered;
    it fails where Markdown made more of them than text (a list, a link, emphasis, code)."""
    page = MarkdownIt("commonmark").render((project / "README.md").read_text("utf-8"))
    shown = re.match(r"<h1>(?P<title>[^<]*)</h1>\n<p>(?P<description>[^<]*)</p>\n", page)
    assert shown, page[:500]
    return html.unescape(shown["title"]), html.unescape(shown["description"])


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
    assert readme_shows(project) == (recorded["project_name"], recorded["description"])


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


# Re-running over a project: the README's "Generating into an existing folder", sentence by
# sentence. A project whose user has edited a generated file, added files of their own, and
# files where options they now answer no would go.
YOURS = {
    "python_wsgi_app/views.py": "# my routes\n",
    "compose.yaml": "# my stack\n",
    "k8s/ingress.yaml": "# my ingress\n",
    ".github/workflows/release.yml": "# my release\n",
    "python_wsgi_app/models.py": "# my models\n",
}


@pytest.fixture
def users_project(work, home) -> Path:
    result = cookiecutter("--no-input", "-o", "out", str(TEMPLATE), "kubernetes=yes", cwd=work,
                          home=home)  # fmt: skip
    assert result.returncode == 0, result.stderr
    project = work / "out" / "python_wsgi_app"
    for name, text in YOURS.items():
        (project / name).write_text(text)
    (project / "README.md").unlink()
    return project


def rerun(project: Path, home: Path, *options: str) -> subprocess.CompletedProcess:
    return cookiecutter("--no-input", *options, "-o", "out", str(TEMPLATE), "ci=no", "compose=no",
                        cwd=project.parent.parent, home=home)  # fmt: skip


def test_without_f_an_existing_folder_stops_with_nothing_changed(users_project, home):
    before = snapshot(users_project.parent.parent)
    result = rerun(users_project, home)
    assert result.returncode == 1 and "already exists" in result.stdout
    assert snapshot(users_project.parent.parent) == before


def test_f_writes_the_templates_files_over_theirs_and_deletes_nothing(users_project, home):
    before = set(snapshot(users_project))
    assert rerun(users_project, home, "-f").returncode == 0
    # What the template writes for these answers replaces the copy there, and missing files
    # come back.
    views = (users_project / "python_wsgi_app" / "views.py").read_text()
    assert views != YOURS["python_wsgi_app/views.py"] and MESSAGE in views
    assert (users_project / "README.md").is_file()
    # Nothing else is touched: the user's files, and those of options now answered no.
    for name, text in YOURS.items():
        if name != "python_wsgi_app/views.py":
            assert (users_project / name).read_text() == text, name
    assert (users_project / "k8s" / "app.yaml").is_file()
    assert before <= set(snapshot(users_project))  # no file deleted


def test_f_with_s_keeps_every_existing_file_and_adds_missing_ones(users_project, home):
    before = snapshot(users_project)
    assert rerun(users_project, home, "-f", "-s").returncode == 0
    after = snapshot(users_project)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before) == {"README.md"}


# Slugs beside the names the rules refuse: each bakes a project that passes ruff and its own
# tests; the first is also built into an image that serves.
NEAR_MISSES = ["pytest_app", "tests2", "k8s_app", "annotation", "json_api", "flask_app",
               "healthchecks", "test_apps", "conftests", "dockerfiles", "cgi_bin"]  # fmt: skip


@pytest.mark.parametrize("slug", NEAR_MISSES)
def test_a_slug_beside_a_refused_name_bakes_a_project_that_passes_its_tests(cookies, developed,
                                                                            slug):  # fmt: skip
    project = bake(cookies, project_slug=slug)
    assert project.name == slug and (project / slug / "__init__.py").is_file()
    run(tool("ruff"), "check", "--no-cache", str(project))
    run(tool("ruff"), "format", "--check", "--no-cache", str(project))
    (project / ".venv").symlink_to(developed / ".venv")  # the tools of README's "Develop"
    result = run(".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert " passed" in result.stdout.splitlines()[-1], result.stdout


@pytest.mark.docker
def test_a_slug_beside_a_refused_name_serves_from_its_image(image):
    tag, _ = image(project_slug=NEAR_MISSES[0])
    with Container(tag, 6000) as container:
        assert container.wait_until_serving() == (200, MESSAGE)


# The lists behind the refused slugs, checked against what they stand for.


@pytest.mark.docker
@pytest.mark.parametrize("python", BUILDABLE_PYTHONS, ids=lambda v: f"python_version:{v}")
def test_refused_slugs_hold_the_standard_library_of_each_python(docker_engine, python):
    """3.12 has no image here; its modules are 3.11's less those 3.12 removed."""
    code = "import sys; print(*sys.stdlib_module_names)"
    names = docker("run", "--rm", f"python:{python}-slim", "python", "-c", code).split()
    assert {name for name in names if not name.startswith("_")} <= set(STANDARD_LIBRARY.split())


def test_refused_slugs_hold_every_module_the_locks_install(developed):
    code = "import importlib.metadata as m; print(*m.packages_distributions())"
    names = run(str(developed / ".venv" / "bin" / "python"), "-c", code).stdout.split()
    assert {name for name in names if not name.startswith("_")} <= set(INSTALLED.split())


def test_refused_slugs_hold_every_name_the_project_uses(cookies):
    """Beside the package: folders, files without a suffix (Dockerfile is dockerfile on a
    case-insensitive disk), and the modules at the top and in tests/."""
    project = bake(cookies, kubernetes="yes", compose="yes", ci="yes", database="postgres",
                   metrics="yes")  # fmt: skip
    names = {p.name.lower() for p in project.iterdir() if p.is_dir() or "." not in p.name}
    names |= {p.stem for p in [*project.glob("*.py"), *project.glob("tests/*.py")]}
    assert {n for n in names - {project.name} if n.isidentifier()} <= set(OWN_NAMES.split())
