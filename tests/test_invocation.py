"""Every way a user points cookiecutter at the template works, from a fresh clone; and the
README's Quick start, run verbatim, answers its prompts and gives an image that serves."""

import json
import os
import re
import subprocess
import sys

import pexpect
import pytest

from helpers import (
    CONTEXT,
    MESSAGE,
    TEMPLATE,
    Container,
    build,
    clone,
    commands,
    cookiecutter,
    run,
    tool,
)

SLUG = "python_wsgi_app"  # from the default project name


# (working directory, template as typed, output folder option, where the project lands, the
# address the project records), all relative to a base folder holding the clone.
WAYS = {
    "dot-from-inside-the-clone": ("{clone}", ".", ["--output-dir", ".."], "", "{base}/{clone}"),
    "relative-from-a-sibling": ("elsewhere", "../{clone}", [], "elsewhere", "{base}/{clone}"),
    "name-from-its-parent": ("", "{clone}", [], "", "{base}/{clone}"),
    "absolute": ("elsewhere", "{base}/{clone}", [], "elsewhere", "{base}/{clone}"),
    "git-file-url": ("elsewhere", "git+file://{base}/{clone}", [], "elsewhere",
                     "git+file://{base}/{clone}"),
    # As `cookiecutter gh:owner/repo` clones it, from a stand-in for GitHub (below).
    "gh-abbreviation": ("elsewhere", "gh:owner/{clone}", [], "elsewhere", "gh:owner/{clone}"),
    "relative-output-dir": ("", "{clone}", ["--output-dir", "out/projects"], "out/projects",
                            "{base}/{clone}"),
}  # fmt: skip


@pytest.mark.parametrize("way", list(WAYS))
def test_every_way_to_name_the_template_refuses_and_bakes(checkout, tmp_path, way):
    cwd, template, output, lands, address = WAYS[way]
    base = tmp_path / "base"
    repo = clone(checkout, base)
    # gh: expands to https://github.com/{0}.git; here, to a bare repository in its place.
    github = tmp_path / "github"
    run("git", "clone", "-q", "--bare", str(repo), str(github / "owner" / f"{repo.name}.git"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "cookiecutter.yaml").write_text(
        f"cookiecutters_dir: {home / 'clones'}\nreplay_dir: {home / 'replay'}\n"
        f"abbreviations:\n  gh: git+file://{github}/{{0}}.git\n"
    )
    names = {"clone": repo.name, "base": base}
    cwd = base / cwd.format(**names)
    cwd.mkdir(parents=True, exist_ok=True)
    arguments = [*output, "--no-input", template.format(**names)]

    before = list(base.rglob("*"))
    refused = cookiecutter(*arguments, "port=80", cwd=cwd, home=home)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: port='80' is not allowed")
    assert list(base.rglob("*")) == before  # the answers are checked before any folder is made

    baked = cookiecutter(*arguments, "port=8123", "kubernetes=no", cwd=cwd, home=home)
    assert baked.returncode == 0, baked.stdout + baked.stderr
    project = base / lands / SLUG
    assert "PORT=8123" in (project / "Dockerfile").read_text()  # the answer reached the files
    assert not (project / "k8s").exists()  # the post-generation hook ran
    # Where it came from, for updates: the address as given, a local clone by its own path.
    recorded = json.loads((project / ".cookiecutter.json").read_text())["template"]
    commit = run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert recorded == {"address": address.format(**names), "commit": commit}


def test_cruft_create_from_a_relative_path(checkout, tmp_path):
    repo = clone(checkout, tmp_path / "base")
    elsewhere = tmp_path / "base" / "elsewhere"
    elsewhere.mkdir()
    run(tool("cruft"), "create", "--no-input", f"../{repo.name}", "--extra-context",
        '{"port": "8123"}', cwd=elsewhere)  # fmt: skip
    assert "PORT=8123" in (elsewhere / SLUG / "Dockerfile").read_text()
    assert (elsewhere / SLUG / ".cruft.json").is_file()


def prompts() -> list[tuple[str, str]]:
    """(variable, prompt text) in the order cookiecutter asks."""
    texts = CONTEXT["__prompts__"]
    return [
        (name, texts[name]["__prompt__"] if isinstance(texts[name], dict) else texts[name])
        for name in CONTEXT
        if not name.startswith("_")
    ]


@pytest.mark.docker
def test_readme_quick_start_verbatim(docker_engine, checkout, tmp_path):
    """The command in a fresh clone, answering through a terminal: a port and worker count of
    our own, Enter for every other default. The project lands next to the clone, and its image
    serves. The README's test command is the one CI runs (.ci/run)."""
    (first,) = commands(TEMPLATE / "README.md", "Quick start")
    (suite,) = commands(TEMPLATE / "README.md", "Working on the template")
    assert suite in (TEMPLATE / ".ci" / "run").read_text().splitlines()
    repo = clone(checkout, tmp_path)
    answers = {"port": "8123", "workers": "5"}

    environ = {**os.environ, "COOKIECUTTER_CONFIG": str(tmp_path / "none.yaml"), "NO_COLOR": "1"}
    (tmp_path / "none.yaml").write_text(f"replay_dir: {tmp_path / 'replay'}\n")
    terminal = pexpect.spawn(
        "bash", ["-c", first], cwd=repo, env=environ, encoding="utf-8", timeout=600,
        dimensions=(50, 250),
    )  # fmt: skip
    for name, text in prompts():
        terminal.expect(re.escape(text))
        # The end of the default, shown in parentheses (and maybe bold).
        terminal.expect(r"\)(?:\x1b\[[0-9;]*m)*: ")
        terminal.sendline(answers.get(name, ""))
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0, terminal.before

    project = tmp_path / SLUG
    assert project.is_dir()
    tag = f"quick-start-{tmp_path.name.lower()}"
    build(project, tag)
    with Container(tag, 8123) as container:
        assert container.wait_until_serving() == (200, MESSAGE)
        container.settled_workers(5)


@pytest.mark.parametrize("version", ["1.7.3", "2.1.1"])
def test_an_older_cookiecutter_stops_at_once_with_one_line(checkout, tmp_path, version):
    """Installed from PyPI in a venv of its own, run as a user would (prompts and all): it asks
    nothing, writes nothing, and says why in one line. 2.x names the version it needs; 1.x
    cannot run the template's code, and says it cannot load it."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "--quiet", f"cookiecutter=={version}", timeout=300)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [str(venv / "bin" / "cookiecutter"), str(checkout)], cwd=out, stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    said = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 1 and list(out.iterdir()) == [], said
    if version.startswith("1."):
        assert said == ["Unable to load extension: No module named 'hooks'"]
    else:
        needs = (
            f"needs cookiecutter 2.2 or newer; found {version} (pip install --upgrade cookiecutter)"
        )
        assert said == [f"error: this template {needs}."]
