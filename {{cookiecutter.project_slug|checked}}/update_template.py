"""Bring this project up to date with the template it was generated from (docs/updating.md).

    .venv/bin/python update_template.py [REF] [--template ADDRESS] [--from COMMIT]

.cookiecutter.json records the answers, the template's address and the template commit the
project was made from. This bakes that commit and the newer one (REF: a branch, tag or commit;
by default the template's default branch) with the same answers, then merges the difference
between the two bakes into this project with git, as a cherry-pick: the older bake is the base,
this project's files are ours, the newer bake is theirs. The project's own changes stay, files of
its own are never touched, a file the template removed goes only if it is as generated; a file
both changed at the same lines is a conflict. .cookiecutter.json is the newer bake's, which
records the new commit and lists the answers the newer template added, with their defaults.

Exit status: 0 updated (one commit) or already up to date; 1 conflicts, each reported on a line
of its own, nothing committed; 2 nothing done, with one line on stderr saying why.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent
RECORD = ".cookiecutter.json"
SET_ONCE = (
    f"{RECORD} records no template to update from: run this once with --template ADDRESS (its "
    "git address, e.g. gh:OWNER/REPOSITORY) --from COMMIT (the template commit or tag this "
    "project was generated from); docs/updating.md says more"
)
# What each conflict's two letters from git status mean (here: this project; template: the bake).
CONFLICTS = {
    "UU": "changed here and in the template",
    "AA": "added here and by the template",
    "UD": "changed here, removed by the template",
    "DU": "removed here, changed by the template",
    "AU": "added here, changed by the template",
    "UA": "changed here, added by the template",
    "DD": "removed here and by the template",
}
# Each bake runs in a Python of its own: two templates' hook modules cannot share one.
BAKE = """
import json, sys
from cookiecutter.main import cookiecutter
template, output, config, answers = sys.argv[1:]
cookiecutter(template, no_input=True, extra_context=json.loads(answers), output_dir=output,
             config_file=config)
"""


class Refused(Exception):
    """Nothing was done, for the reason given."""


def git(*arguments: str, cwd: Path = PROJECT, env: dict | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["git", *arguments], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        raise Refused(f"git {arguments[0]} failed: {lines[-1]}")
    return result.stdout.strip()


def public(address: str) -> str:
    """The address as it is recorded and shown: no user or token of an http(s) URL, no password
    of any other, no query or fragment of an http(s) URL."""
    scheme, separator, rest = address.partition("://")
    if not separator:
        return address
    host, slash, path = rest.partition("/")
    userinfo, at, host = host.rpartition("@")
    web = scheme.rpartition("+")[2] in ("http", "https")
    if at and not web:
        host = f"{userinfo.partition(':')[0]}@{host}"
    if web:
        path = path.partition("?")[0].partition("#")[0]
    return f"{scheme}://{host}{slash}{path}"


def as_given(value: object) -> object:
    """An answer that cookiecutter gives back unchanged: it renders the text of every answer it
    is given as Jinja, so text holding Jinja's delimiters goes in as a Jinja string literal."""
    if not isinstance(value, str) or not re.search(r"\{[{%#]", value):
        return value
    escaped = "".join(f"\\U{ord(character):08x}" for character in value)
    return "{{ '" + escaped + "' }}"


def check_repository() -> None:
    top = git("rev-parse", "--show-toplevel", check=False)
    if not top or Path(top).resolve() != PROJECT:
        raise Refused(f"{PROJECT} is not the top of a git repository: git init, commit, try again")
    if not git("rev-parse", "--verify", "--quiet", "HEAD", check=False):
        raise Refused("the git repository has no commit yet: commit the project first")
    if git("status", "--porcelain", "--untracked-files=all"):
        raise Refused("the git working tree has uncommitted changes: commit or stash them first")
    for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if git("var", who, check=False) == "":
            raise Refused("git needs your name and email to commit: git config user.name/email")


def clone(address: str, into: Path) -> Path:
    """A clone of the template at address: a local path, a URL, or an abbreviation cookiecutter
    expands (gh:, gl:, bb: and those of your cookiecutter config)."""
    try:
        from cookiecutter.config import get_user_config
        from cookiecutter.repository import expand_abbreviations
    except ImportError:
        raise Refused("cookiecutter is not installed: run this with .venv/bin/python") from None

    source = Path(address).expanduser()
    if not source.is_dir():
        source = expand_abbreviations(address, get_user_config()["abbreviations"])
        source = source.removeprefix("git+")
    result = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", str(source), str(into)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        why = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        why = why.replace(address, public(address)).replace(str(source), public(str(source)))
        raise Refused(f"cannot clone the template from {public(address)}: {why}")
    return into


def commit_of(template: Path, ref: str) -> str:
    for name in (ref, f"origin/{ref}"):
        found = git(
            "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=template, check=False
        )
        if found:
            return found
    raise Refused(f"the template has no commit, branch or tag {ref!r}")


def bake(template: Path, commit: str, answers: dict, address: str, work: Path) -> Path:
    """The project the template makes at commit with these answers, recorded as made from
    address (the bake itself sees a local clone)."""
    checkout = work / f"template-{commit[:12]}"
    git("worktree", "add", "--quiet", "--detach", str(checkout), commit, cwd=template)
    output = work / f"bake-{commit[:12]}"
    config = work / "cookiecutter.yaml"  # no replay or clone of the user's is written
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(work / 'clones'))}\n"
        f"replay_dir: {json.dumps(str(work / 'replay'))}\n"
    )
    given = json.dumps({key: as_given(value) for key, value in answers.items()})
    result = subprocess.run(
        [sys.executable, "-c", BAKE, str(checkout), str(output), str(config), given],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        why = (result.stderr.strip().splitlines() or ["(no output)"])[-1].split(" Context: ")[0]
        raise Refused(f"the template at {commit[:12]} did not bake with these answers: {why}")
    (project,) = output.iterdir()
    record = project / RECORD
    if record.is_file():
        text = record.read_text("utf-8")
        record.write_text(text.replace(json.dumps(str(checkout)), json.dumps(public(address))))
    return project


def commit_tree(folder: Path, work: Path, message: str, *parents: str) -> str:
    """A commit, in this repository, of a bake's files as they are: none ignored."""
    environ = {**os.environ, "GIT_INDEX_FILE": str(work / f"index-{folder.name}")}
    git_dir = git("rev-parse", "--absolute-git-dir")
    where = ["--git-dir", git_dir, "--work-tree", str(folder)]
    git(*where, "add", "--all", "--force", ".", cwd=folder, env=environ)
    tree = git(*where, "write-tree", cwd=folder, env=environ)
    parents = [f"-p{parent}" for parent in parents]
    return git("commit-tree", "--no-gpg-sign", tree, *parents, "-m", message)


def ignored_in_the_way(base: str, theirs: str) -> list[str]:
    """Files of this project that git ignores, where the template adds a file: git would
    replace them."""
    added = git("diff", "--name-only", "--no-renames", "--diff-filter=A", "-z", base, theirs)
    tracked = set(git("ls-files", "-z").split("\0"))
    found = []
    for name in filter(None, added.split("\0")):
        path = PROJECT / name
        # The file itself, or a file where the template has a folder on its way.
        ways = [path.exists() or path.is_symlink()] + [
            part.is_symlink() or part.is_file() for part in path.parents
        ]
        for part, in_the_way in zip([path, *path.parents], ways, strict=True):
            if part == PROJECT:
                break
            if in_the_way and str(part.relative_to(PROJECT)) not in tracked:
                found.append(str(part.relative_to(PROJECT)))
                break
    return found


def conflicts() -> list[tuple[str, str]]:
    """(file, what happened to it) for each file git left unmerged."""
    entries = iter(git("status", "--porcelain", "-z", "--untracked-files=no").split("\0"))
    found = []
    for entry in entries:
        code, name = entry[:2], entry[3:]
        if code in CONFLICTS:
            found.append((name, CONFLICTS[code]))
        elif "R" in code or "C" in code:
            next(entries)  # the name it had before
    return found


def update(ref: str | None, address: str | None, since: str | None) -> int:
    check_repository()
    try:
        record = json.loads((PROJECT / RECORD).read_text("utf-8"))
        answers = record["cookiecutter"]
    except (OSError, ValueError, KeyError) as error:
        raise Refused(f"{RECORD} holds no answers: {error}") from None
    recorded = record.get("template") or {}
    if address and Path(address).expanduser().is_dir():
        address = str(Path(address).expanduser().resolve())  # a local clone, as generation has it
    address = address or recorded.get("address")
    since = since or recorded.get("commit")
    if not address or not since:
        raise Refused(SET_ONCE)
    shown = public(address)
    with tempfile.TemporaryDirectory(prefix="update-template-") as folder:
        work = Path(folder).resolve()
        template = clone(address, work / "template")
        old, new = commit_of(template, since), commit_of(template, ref or "HEAD")
        if old == new and recorded == {"address": shown, "commit": new}:
            print(f"Up to date with {shown} at {new[:12]}: nothing to do.")
            return 0
        print(f"Updating from {shown}: {old[:12]}..{new[:12]}")
        older = bake(template, old, answers, address, work)
        newer = bake(template, new, answers, address, work)
        now = json.loads((newer / RECORD).read_text("utf-8")).get("cookiecutter", {})
        report = [
            f"New answer: {key} = {json.dumps(value, ensure_ascii=False)} (its default)"
            for key, value in now.items()
            if key not in answers
        ]
        report += [f"No longer asked: {key}" for key in answers if key not in now]
        subject = f"Update from the template: {old[:12]}..{new[:12]}"
        message = "\n\n".join([subject, f"Template: {shown}", "\n".join(report)]).strip()
        base = commit_tree(older, work, f"The template at {old}")
        theirs = commit_tree(newer, work, message, base)
        in_the_way = ignored_in_the_way(base, theirs)
        if in_the_way:
            raise Refused(
                f"{in_the_way[0]}, ignored by git here, is where the template adds a "
                "file: move it away first"
            )
        picked = subprocess.run(
            ["git", "cherry-pick", "--no-commit", theirs],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=False,
        )
        if picked.returncode and not conflicts():
            raise Refused(f"git cherry-pick failed: {picked.stderr.strip()}")
        if git("ls-tree", "--name-only", theirs, "--", RECORD):
            git("checkout", theirs, "--", RECORD)  # the newer bake's record, conflict or not
        found = conflicts()
    for line in report:
        print(line)
    if found:
        for name, kind in found:
            print(f"Conflict: {name} ({kind})")
        files = "1 file" if len(found) == 1 else f"{len(found)} files"
        print(
            f"{files} with conflicts: resolve the marked lines, git add, then git commit; "
            "git reset --merge undoes the whole update"
        )
        return 1
    if not git("diff", "--cached", "--name-only"):
        git("reset", "--quiet", "--merge")
        print(f"Up to date with {shown} at {new[:12]}: nothing to do.")
        return 0
    # Commit hooks find the project's tools first, as with its virtual environment activated.
    environ = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    committed = subprocess.run(
        ["git", "commit", "--quiet", "-m", message],
        cwd=PROJECT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if committed.returncode:
        print(committed.stdout + committed.stderr, end="", file=sys.stderr)
        raise Refused(
            "git commit failed (above): the update is staged; git commit it, or git "
            "reset --merge to undo it"
        )
    print(f"Updated in commit {git('rev-parse', '--short=12', 'HEAD')}: git show lists the changes")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "ref",
        nargs="?",
        help="the template's branch, tag or commit to update to (default: its default branch)",
    )
    parser.add_argument(
        "--template",
        metavar="ADDRESS",
        help=f"the template's git address, when {RECORD} records none or another",
    )
    parser.add_argument(
        "--from",
        dest="since",
        metavar="COMMIT",
        help="the template commit this "
        f"project was generated from or last updated to, when {RECORD} records none",
    )
    arguments = parser.parse_args()
    try:
        return update(arguments.ref, arguments.template, arguments.since)
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
