"""Refuse bad answers before any file is generated.

Each refusal is one line on stderr naming the prompt, the value and what is allowed;
cookiecutter then removes the project folder it made for this run. Everything checked here is
in this file: the answers arrive rendered into it and the choice lists are below, so the check
does not depend on the working directory or on how the template was named (".", "../name", a
git URL). A test keeps the lists equal to cookiecutter.json's.
"""

import json
import keyword
import re
import sys

# Answers arrive as JSON inside a raw string, so quotes, backslashes and unicode in them can
# neither break this file nor run as code.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

CHOICES = {
    "worker_class": ["sync", "gthread"],
    "python_version": ["3.11", "3.12", "3.13", "3.14", "3.15"],
}
YES_NO = ["compose", "kubernetes", "ci"]

SLUG = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
SLUG_LENGTH = 63  # the longest Kubernetes name and label value
# The slug names the app's package: it must not hide a module the app or its server imports.
TAKEN = {*sys.stdlib_module_names, "tests", "flask", "gunicorn", "werkzeug", "jinja2",
         "markupsafe", "itsdangerous", "click", "blinker", "healthcheck"}  # fmt: skip
# Ports below 1024 need root, and the app runs as an unprivileged user.
PORTS = range(1024, 65536)
# 1000 workers is far past what one machine runs well; 1000 threads per worker is Gunicorn's
# worker_connections; 1000 replicas keeps clear of Kubernetes' int32 field.
COUNTS = range(1, 1001)


def integer_in(allowed: range):
    return lambda text: re.fullmatch(r"[1-9][0-9]{0,5}", text) and int(text) in allowed


def one_line(text: str) -> bool:
    return text.isprintable() and text == text.strip()


COUNT = f"an integer from {COUNTS.start} to {COUNTS.stop - 1}"
# Text answers: (is it allowed?, what is allowed).
TEXT = {
    "project_name": (lambda v: v and one_line(v), "a name on one line, not blank"),
    "project_slug": (
        lambda v: (
            len(v) <= SLUG_LENGTH
            and SLUG.fullmatch(v)
            and not keyword.iskeyword(v)
            and v not in TAKEN
        ),
        (
            f"up to {SLUG_LENGTH} lowercase letters, digits and single underscores, starting "
            "with a letter; not a Python keyword nor a module the app imports, such as json or "
            "flask (it names the app's package, its image and Kubernetes objects)"
        ),
    ),
    "description": (one_line, "one line of text without leading or trailing spaces"),
    "port": (integer_in(PORTS), f"an integer from {PORTS.start} to {PORTS.stop - 1}"),
    "workers": (lambda v: v == "auto" or integer_in(COUNTS)(v), f"{COUNT}, or 'auto'"),
    "threads": (integer_in(COUNTS), COUNT),
    "replicas": (integer_in(COUNTS), COUNT),
    **{
        name: (choices.__contains__, "one of " + ", ".join(choices))
        for name, choices in CHOICES.items()
    },
}
NUMBERS = ["port", "workers", "threads", "replicas"]


def problem(name: str, value: object) -> str | None:
    """What is allowed for this answer, or None when its value is allowed."""
    if name in YES_NO:
        # cookiecutter turns yes/no typed or given on the command line into booleans; a replay
        # file must hold JSON booleans, since the text "no" would count as true.
        return None if isinstance(value, bool) else "yes or no (true or false in a replay file)"
    if name not in TEXT:
        return None  # cookiecutter's own entries (_template, ...), and any we do not ask
    if name in NUMBERS and type(value) is int:
        value = str(value)  # a hand-written replay file may hold numbers
    valid, allowed = TEXT[name]
    return None if isinstance(value, str) and valid(value) else allowed


def shown(value: object, limit: int = 40) -> str:
    """The value as the message quotes it: text in quotes, anything else as JSON; cut if long."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit]}... ({length} characters)"


def main() -> int:
    for name, value in ANSWERS.items():
        allowed = problem(name, value)
        if allowed:
            message = f"error: {name}={shown(value)} is not allowed; expected {allowed}."
            print(message, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
