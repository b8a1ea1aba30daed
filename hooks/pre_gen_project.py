"""Refuse bad answers before any file is generated.

Each refusal is one line naming the prompt, the value and what is allowed; cookiecutter then
removes the project folder it created for this run.
"""

import json
import keyword
import re
import sys
from pathlib import Path

# Answers arrive as JSON inside a raw string, so quotes, backslashes and unicode in them can
# neither break this file nor run as code.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
# The template's own cookiecutter.json, for its choice lists. cruft renders without _repo_dir,
# after cookiecutter has checked the choices, so then only the typed answers are checked here.
REPO = ANSWERS.get("_repo_dir")
CHOICES = json.loads(Path(REPO, "cookiecutter.json").read_text("utf-8")) if REPO else {}

SLUG = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
POSITIVE = re.compile(r"[1-9][0-9]*")


def problem(name: str, value: str | bool) -> str | None:
    """What is wrong with one answer, or None when it is allowed."""
    if name == "project_name":
        if not value.strip() or not value.isprintable():
            return "a non-empty name on one line"
    elif name == "project_slug":
        if not SLUG.fullmatch(value) or keyword.iskeyword(value) or len(value) > 64:
            return (
                "up to 64 lowercase letters, digits and single underscores, starting with "
                "a letter and not a Python keyword (a valid identifier and Docker image name)"
            )
    elif name == "description":
        if not value.isprintable():
            return "one line of text"
    elif name == "port":
        if not POSITIVE.fullmatch(value) or int(value) > 65535:
            return "an integer from 1 to 65535"
    elif name == "workers":
        if value != "auto" and not POSITIVE.fullmatch(value):
            return "a positive integer, or 'auto'"
    elif name in ("threads", "replicas"):
        if not POSITIVE.fullmatch(value):
            return "a positive integer"
    elif isinstance(CHOICES.get(name), bool):
        if not isinstance(value, bool):
            return "yes or no"
    elif isinstance(CHOICES.get(name), list) and value not in CHOICES[name]:
        return "one of " + ", ".join(CHOICES[name])
    return None


def main() -> int:
    for name, value in ANSWERS.items():
        if name.startswith("_"):
            continue
        if not isinstance(value, bool):
            value = str(value)  # a replay file may hold numbers
        allowed = problem(name, value)
        if allowed:
            print(f"error: {name}={value!r} is not allowed; expected {allowed}.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
