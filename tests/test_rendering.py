"""Rendering: each answer shapes what a bake writes, and the whole prompt matrix renders into
files that parse and pass ruff and hadolint."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from helpers import (
    CONTEXT,
    TEMPLATE,
    bake,
    choices,
    combinations,
    dockerfile_cmd,
    dockerfile_stages,
    gunicorn_settings,
    ids,
    run,
    tool,
)

PYTHONS = [{"python_version": version} for version in choices("python_version")]
PORTS = [{"port": "6000"}, {"port": "8080"}]
WORKERS = [{"workers": "1"}, {"workers": "3"}, {"workers": "auto"}]
# Every worker class, and gthread with two thread counts.
WORKER_OPTIONS = [
    {"worker_class": "sync", "threads": "4"},
    {"worker_class": "gthread", "threads": "2"},
    {"worker_class": "gthread", "threads": "8"},
]
# compose x kubernetes, each with its own replica count, with and without the CI files, the
# database and the metrics.
DEPLOYMENTS = [
    {"compose": compose, "kubernetes": kubernetes, "replicas": replicas, "ci": ci,
     "database": database, "metrics": metrics}
    for compose, kubernetes, replicas, ci, database, metrics in [
        ("no", "no", "2", "no", "none", "no"),
        ("yes", "no", "1", "yes", "postgres", "yes"),
        ("no", "yes", "3", "yes", "postgres", "no"),
        ("yes", "yes", "2", "no", "none", "yes"),
    ]
]  # fmt: skip
SWEEP = combinations(PYTHONS, PORTS, WORKERS, WORKER_OPTIONS, DEPLOYMENTS)


def python_images(project: Path) -> list[str]:
    """The FROM lines of the build, static and runtime stages (the uv stage only lends its
    binary)."""
    stages = dockerfile_stages(project).values()
    return [args for steps in stages for keyword, args in steps[:1] if args.startswith("python:")]


def test_default_bake_is_the_seed_without_its_defects(default_project):
    assert default_project.name == "python_wsgi_app"
    assert python_images(default_project) == [
        "python:3.11 AS build", "python:3.11 AS static", "python:3.11-slim AS runtime"
    ]  # fmt: skip
    runtime = dockerfile_stages(default_project)["runtime"]
    # The seed appended the venv to PATH; it must come first.
    environment = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert re.search(r'PATH="/opt/venv/bin:\$PATH"', environment)
    # The seed's "COPY --from=build /opt/venv /opt/venv   # comment" copied "#" and "comment".
    for keyword, args in runtime:
        assert "#" not in args or keyword == "RUN", (keyword, args)
    assert ("EXPOSE", "$PORT") in runtime and "PORT=6000" in environment.split()
    assert dockerfile_cmd(default_project)[0] == "gunicorn"

    config = gunicorn_settings(default_project)
    assert config["bind"] == ["0.0.0.0:6000"]
    assert config["workers"] == 3 and config["worker_class"] == "sync"
    assert "threads" not in config  # threads > 1 would silently turn sync into gthread


def test_docker_build_makes_the_runtime_stage_as_it_is(default_project):
    """The development stages come before the last one, which is the runtime stage unchanged:
    what `docker build` makes without --target."""
    stages = dockerfile_stages(default_project)
    assert list(stages)[-1] == "" and stages[""] == [("FROM", "runtime")]
    assert list(stages).index("runtime") < list(stages).index("development")


def test_requirements_come_before_the_code(default_project):
    """A code-only change reuses the dependency layer: the build stage installs requirements
    only, and the app's code is copied only into the runtime stage."""
    stages = dockerfile_stages(default_project)

    def copied(stage: str) -> list[str]:
        return [a for kw, a in stages[stage] if kw == "COPY" and not a.startswith("--from=uv ")]

    assert copied("build") == ["requirements.txt /tmp/requirements.txt"]
    assert any(k == "RUN" and "--require-hashes" in a for k, a in stages["build"])
    assert "python_wsgi_app/ python_wsgi_app/" in copied("runtime")
    assert not [a for a in copied("runtime") if "requirements" in a]


@pytest.mark.parametrize("answers", combinations(PYTHONS, PORTS), ids=ids)
def test_images_and_port_follow_the_answers(cookies, answers):
    project = bake(cookies, **answers)
    python, port = answers["python_version"], answers["port"]
    assert python_images(project) == [
        f"python:{python} AS build",
        f"python:{python} AS static",
        f"python:{python}-slim AS runtime",
    ]
    runtime = dict(dockerfile_stages(project)["runtime"])  # one ENV and one EXPOSE there
    assert f"PORT={port}" in runtime["ENV"].split() and runtime["EXPOSE"] == "$PORT"
    assert gunicorn_settings(project)["bind"] == [f"0.0.0.0:{port}"]
    ruff = (project / "pyproject.toml").read_text()
    assert f'target-version = "py{python.replace(".", "")}"' in ruff


@pytest.mark.parametrize("answers", combinations(WORKERS, WORKER_OPTIONS), ids=ids)
def test_gunicorn_settings_follow_the_answers(cookies, answers):
    config = gunicorn_settings(bake(cookies, **answers))
    assert config["worker_class"] == answers["worker_class"]
    gthread = answers["worker_class"] == "gthread"
    assert config.get("threads", 1) == (int(answers["threads"]) if gthread else 1)
    if answers["workers"] == "auto":
        assert config["WORKERS_FROM"].startswith("auto: 2 x ")  # counted at start (below)
    else:
        assert config["workers"] == int(answers["workers"])
        assert "auto_workers" not in config


def test_auto_workers_follow_the_cpus_this_process_may_use(cookies):
    project = bake(cookies, workers="auto")
    affinity = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(affinity)})
        assert gunicorn_settings(project)["workers"] == 3  # 2 x 1 CPU + 1, whatever the host has
    finally:
        os.sched_setaffinity(0, affinity)


@pytest.mark.parametrize("answers", combinations(DEPLOYMENTS, PORTS), ids=ids)
def test_deployment_files_follow_the_answers(cookies, answers):
    project = bake(cookies, **answers)
    port, replicas = int(answers["port"]), int(answers["replicas"])
    compose = project / "compose.yaml"
    assert compose.exists() == (answers["compose"] == "yes")
    for name in ("Caddyfile", "compose.https.yaml"):
        assert (project / name).exists() == compose.exists()
    if compose.exists():
        services = yaml.safe_load(compose.read_text())["services"]
        # Only the edge publishes a port, on loopback unless told otherwise.
        assert "ports" not in services["web"]
        (published,) = services["edge"]["ports"]
        assert published == "${PUBLISH_ADDRESS:-127.0.0.1}:${PUBLISH_PORT:-8000}:8080"
        # Gunicorn's port, for the app and for the edge's upstream (the Caddyfile reads it).
        for service in ("web", "edge"):
            assert services[service]["environment"]["PORT"] == f"${{PORT:-{port}}}"
        assert services["web"]["deploy"]["replicas"] == replicas
        assert "dynamic a web {$PORT} {" in (project / "Caddyfile").read_text()
    manifests = project / "k8s" / "app.yaml"
    assert manifests.exists() == (answers["kubernetes"] == "yes")
    if manifests.exists():
        deployment = next(yaml.safe_load_all(manifests.read_text()))
        assert deployment["spec"]["replicas"] == replicas
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["ports"][0]["containerPort"] == port

    docs = project / "docs"
    for page in ("compose.md", "https.md", "swarm.md"):
        assert (docs / page).exists() == compose.exists()
    assert (docs / "kubernetes.md").exists() == manifests.exists()
    database = answers["database"] == "postgres"
    for name in ("alembic.ini", "migrations/env.py", f"{project.name}/database.py",
                 "tests/test_notes.py"):  # fmt: skip
        assert (project / name).exists() == database, name
    assert (project / "serving" / "metrics.py").exists() == (answers["metrics"] == "yes")
    assert (docs / "database.md").exists() == database
    assert (docs / "metrics.md").exists() == (answers["metrics"] == "yes")


# Request IDs as clients send them: (the ID, whether it is kept).
REQUEST_IDS = [("client-id.42_x", True), ("a" * 128, True), ("a" * 129, False), ("", False),
               ("two words", False), ("identifiant-été", False), ("a/b", False),
               ("ab\ncd", False), ("..", True), ("UPPER_lower-09", True), ("tab\t", False)]  # fmt: skip


def test_one_request_id_rule_at_the_edge_and_in_the_app(cookies):
    """The Caddyfile's pattern (Go's RE2) and the app's (request_ids.py) keep and replace the
    same IDs: the pattern here is simple enough to mean the same in both engines."""
    project = bake(cookies)
    edge = re.search(r"~\^(\S+)\$ ", (project / "Caddyfile").read_text())[1]
    app = re.search(
        r're\.compile\(r"(.+)"\)', (project / project.name / "request_ids.py").read_text()
    )
    assert edge == app[1]
    for given, kept in REQUEST_IDS:
        assert bool(re.fullmatch(edge, given)) == kept, given


# What each option adds, by the words that name it: none of them in a bake without it.
OPTION_WORDS = {
    "database": re.compile(r"(?i)postgres|sqlalchemy|alembic|psycopg|DATABASE_|/readyz"),
    "metrics": re.compile(r"(?i)prometheus|METRICS_PORT|9464|/metrics"),
    "kubernetes": re.compile(r"kubectl|k8s/|Ingress"),
    "ci": re.compile(r"\.github/|pre-commit|dependabot"),
}


def test_unchosen_options_leave_no_trace(cookies):
    project = bake(cookies, compose="no", kubernetes="no", ci="no")
    assert sorted(p.name for p in project.iterdir()) == [
        ".cookiecutter.json", ".dockerignore", ".gitignore", "Dockerfile", "README.md",
        "compose.dev.yaml", "develop.py", "docs", "gunicorn.conf.py", "healthcheck.py", "pyproject.toml", project.name,
        "requirements-dev.in", "requirements-dev.txt", "requirements.in", "requirements.txt",
        "serving", "static_build.py", "tests", "update_template.py",
    ]  # fmt: skip
    for path in project.rglob("*"):
        if path.is_file() and path.name != ".cookiecutter.json":  # it records every answer
            text = path.read_text("utf-8")
            for option, words in OPTION_WORDS.items():
                assert not words.search(text), (option, path.name, words.search(text)[0])


@pytest.mark.parametrize("answers", combinations(PORTS, DEPLOYMENTS[:2]), ids=ids)
def test_answers_are_recorded_for_replay_and_updates(cookies, answers):
    project = bake(cookies, **answers)
    recorded = json.loads((project / ".cookiecutter.json").read_text("utf-8"))["cookiecutter"]
    expected = {k: {"yes": True, "no": False}.get(v, v) for k, v in answers.items()}
    assert {k: recorded[k] for k in answers} == expected
    assert not [key for key in recorded if key.startswith("_")]


# The whole prompt matrix: 360 bakes rendered once and shared by the checks below.

# Jinja left in a bake; not GitHub's ${{ }}, Docker's {{.Field}}, metadata-action's {{version}}
# or the app's own templates' {{ url_for(...) }} (docs/static.md).
LEFT_OVER_JINJA = re.compile(r"\{%|\{#|(?<!\$)\{\{(?!\.|(?:version|major|minor)\}\}| url_for\()")
# The files cookiecutter copies as they are, without rendering them.
COPIED = CONTEXT["_copy_without_render"]


@pytest.fixture(scope="module")
def sweep(cookies_session):
    baked: dict[str, Path] = {}

    def of(answers: dict) -> Path:
        key = ids(answers)
        if key not in baked:
            baked[key] = bake(cookies_session, **answers)
        return baked[key]

    return of


@pytest.mark.parametrize("answers", SWEEP, ids=ids)
def test_sweep_renders_files_that_parse(sweep, answers):
    project = sweep(answers)
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            copied = str(path.relative_to(project)) in COPIED  # Jinja of its own, for its bakes
            assert copied or not LEFT_OVER_JINJA.search(text), f"unrendered Jinja in {path.name}"
            if path.suffix == ".py":
                compile(text, str(path), "exec")  # a syntax error raises here
            elif path.suffix in (".yaml", ".yml", ".json"):
                assert list(yaml.safe_load_all(text)), path.name


def test_sweep_passes_ruff(sweep):
    projects = [str(sweep(answers)) for answers in SWEEP]
    run(tool("ruff"), "check", "--no-cache", *projects)
    run(tool("ruff"), "format", "--check", "--no-cache", *projects)


def test_sweep_passes_hadolint(sweep):
    run(tool("hadolint"), *[str(sweep(answers) / "Dockerfile") for answers in SWEEP])


def test_our_own_python_passes_ruff():
    """Hooks, tests, the benchmark and the tools; the template folder is Jinja until baked (see
    above)."""
    ours = [str(TEMPLATE / folder) for folder in ("hooks", "tests", "bench", "tools")]
    run(tool("ruff"), "check", "--no-cache", *ours)
    run(tool("ruff"), "format", "--check", "--no-cache", *ours)
