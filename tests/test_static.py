"""Static files as the image build leaves them (static_build.py): digest names that change with
the content and only with it, build after build; compressed copies where they pay; links out of
the folder left out. The stacks' tests (test_proxy.py, test_https.py) serve them; this file also
runs docs/static.md's commands for a bake without Compose."""

import json
import random
import re
import shutil
import subprocess
import sys

import pytest

from helpers import (
    LABEL,
    STATIC_FILES,
    bake,
    build,
    commands,
    decoded,
    docker,
    free_port,
    shell,
    static_in,
    wait_for,
)


def static_build(project, out) -> subprocess.CompletedProcess:
    """The bake's static_build.py, as the Dockerfile's static stage runs it."""
    source = project / project.name / "static"
    command = [sys.executable, "static_build.py", str(source), str(out)]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=True)


def test_the_build_gives_digest_names_and_compressed_copies(default_project, tmp_path):
    """Twice over the same files, the same bytes; each file under its name and its digest name,
    with each compressed copy only when it is smaller by a tenth; a link out of the folder left
    out, with a line that says so; a link inside copied as a file."""
    static = default_project / default_project.name / "static"
    (static / "css").mkdir()
    (static / "css" / "site.css").write_text("p { margin: 0 }\n" * 200)
    (static / "logo.png").write_bytes(random.Random(0).randbytes(1024))  # does not compress
    (static / "outside.py").symlink_to("../../gunicorn.conf.py")
    (static / "alias.css").symlink_to("app.css")
    first = static_build(default_project, tmp_path / "first")
    static_build(default_project, tmp_path / "second")

    def tree(out):
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    assert tree(tmp_path / "first") == tree(tmp_path / "second")
    manifest = json.loads((tmp_path / "first" / "static-manifest.json").read_text())
    assert set(manifest) == {"alias.css", "app.css", "css/site.css", "favicon.svg", "logo.png"}
    assert re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", manifest["css/site.css"])
    assert manifest["alias.css"] == manifest["app.css"].replace("app.", "alias.")
    out = tmp_path / "first" / "static"
    for name in (*manifest, *manifest.values()):
        original = (out / name).read_bytes()
        copies = {suffix for suffix in (".br", ".zst", ".gz") if (out / f"{name}{suffix}").exists()}
        assert copies == (set() if name.startswith("logo.") else {".br", ".zst", ".gz"}), name
        for suffix, encoding in ((".br", "br"), (".zst", "zstd"), (".gz", "gzip")):
            if suffix in copies:
                assert decoded((out / f"{name}{suffix}").read_bytes(), encoding) == original
    assert not list(out.glob("outside*")) and not [p for p in out.rglob("*") if p.is_symlink()]
    assert "outside.py left out" in first.stderr


@pytest.mark.docker
def test_a_changed_file_gets_a_new_digest_name_and_an_unchanged_one_keeps_its_own(image, tmp_path):
    """The default bake rebuilt after a change to app.css: its digest name changes, the
    favicon's stays, though the static stage ran again; the edge's copy follows."""
    tag, project = image()
    copy = shutil.copytree(project, tmp_path / project.name, symlinks=True)
    before, _ = static_in(["run", "--rm", "--label", LABEL, tag], project.name)
    with (copy / project.name / "static" / "app.css").open("a") as css:
        css.write("\nh1 {\n  color: var(--accent);\n}\n")
    changed = f"{tag}-changed"
    build(copy, changed)
    build(copy, f"{changed}-edge", "--target", "edge")
    after, files = static_in(["run", "--rm", "--label", LABEL, changed], project.name)
    assert after["favicon.svg"] == before["favicon.svg"]
    assert after["app.css"] != before["app.css"]
    assert files[after["app.css"].rsplit("/", 1)[1]] == files["app.css"]
    edge = docker("run", "--rm", "--label", LABEL, "--entrypoint", "ls", f"{changed}-edge",
                  "/srv/static").split()  # fmt: skip
    assert {url.rsplit("/", 1)[1] for url in after.values()} <= set(edge)
    assert before["app.css"].rsplit("/", 1)[1] not in edge
    print(f"digest names before: {before}, after the change: {after}")


@pytest.mark.docker
def test_a_project_without_a_static_folder_still_builds(image, tmp_path):
    """static/ removed, as a project with no files of its own leaves it (git keeps no empty
    folder): both images build, the app gives plain names, the edge has nothing to serve."""
    tag, project = image()
    copy = shutil.copytree(project, tmp_path / project.name, symlinks=True)
    shutil.rmtree(copy / project.name / "static")
    bare = f"{tag}-no-static"
    build(copy, bare)
    build(copy, f"{bare}-edge", "--target", "edge")
    urls, files = static_in(["run", "--rm", "--label", LABEL, bare], project.name)
    assert urls == {name: f"/static/{name}" for name, _ in STATIC_FILES} and files == {}
    edge = docker("run", "--rm", "--label", LABEL, "--entrypoint", "ls", f"{bare}-edge", "-A",
                  "/srv/static")  # fmt: skip
    assert edge == ""


@pytest.mark.docker
def test_the_docs_static_commands_without_compose(docker_engine, cookies):
    """docs/static.md's block for a bake without Compose, verbatim: the app serves the files
    with the edge's headers."""
    port = free_port()
    project = bake(cookies, project_name=f"Static Check {port}", port=str(port), compose="no")
    image = f"static-check-{port}"
    lines = commands(project / "docs" / "static.md", "Try it")
    try:
        for line in lines:
            if line.startswith("curl"):  # retried until the server is up
                sent = wait_for(lambda c=line: shell(c, project, check=False), what="the app")
            elif " cat " in line:
                manifest = json.loads(shell(line, project))
            else:
                shell(line, project)
    finally:
        docker("rm", "-f", image, check=False)
        docker("rmi", "-f", image, check=False)
    assert set(manifest) == {name for name, _ in STATIC_FILES}
    sent = [line.strip() for line in sent.lower().splitlines()]
    for line in ("http/1.1 200 ok", "cache-control: no-cache", "content-encoding: br",
                 "content-type: text/css; charset=utf-8", "vary: accept-encoding"):  # fmt: skip
        assert line in sent, sent
