"""The template's locks: requirements.txt and requirements-dev.txt hold, as Jinja, what uv
compiles for every answer that changes requirements.in, each package under the condition of the
answers that need it. The tests check them against uv; after a change to a requirement, run

    .venv/bin/python tools/locks.py

to compile every variant of a bake with its README's command and write the template's locks."""

import itertools
import json
import re
import sys
import tempfile
from pathlib import Path

# The tests' helpers: baking, the README's commands, shell commands.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import TEMPLATE, TEMPLATE_PROJECT, commands, cookiecutter, shell

LOCKS = ["requirements.txt", "requirements-dev.txt"]
# The answers requirements.in depends on, and the Jinja condition each value stands for.
AXES = {
    "database": {"none": 'cookiecutter.database == "none"', "postgres": 'cookiecutter.database == "postgres"'},
    "metrics": {"no": "not cookiecutter.metrics", "yes": "cookiecutter.metrics"},
    "ci": {"no": "not cookiecutter.ci", "yes": "cookiecutter.ci"},
}  # fmt: skip
VARIANTS = [dict(zip(AXES, values, strict=True)) for values in itertools.product(*AXES.values())]
# Every variant is compiled for the oldest Python on offer. A package that only older Pythons
# need carries uv's marker (python_full_version < 'X.Y'), and a bake for a newer Python compiles
# a lock without it: the template keeps it for the Pythons on offer below X.Y.
PYTHONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())["python_version"]
OLDER_ONLY = re.compile(r"python_full_version < '([\d.]+)'")


def version(text: str) -> tuple[int, ...]:
    return tuple(map(int, text.split(".")))


def compiled(variant: dict, folder: Path, venv: Path) -> dict[str, str]:
    """The locks a bake with these answers gets from its README's lock command."""
    answers = [f"{name}={value}" for name, value in variant.items()]
    out = folder / "-".join(variant.values())
    baked = cookiecutter("--no-input", "-o", str(out), str(TEMPLATE), *answers, cwd=folder,
                         home=folder / "home")  # fmt: skip
    assert baked.returncode == 0, baked.stderr
    (project,) = out.iterdir()
    (project / ".venv").symlink_to(venv)
    shell(commands(project / "README.md", "Dependencies")[0], project)
    return {name: (project / name).read_text() for name in LOCKS}


def blocks(lock: str) -> tuple[str, list[str]]:
    """(the header comment, each package's lines), as uv writes them without annotations."""
    header, *packages = re.split(r"(?m)^(?=[a-z0-9])", lock)
    return header, packages


def condition(variants: list[dict]) -> str | None:
    """The Jinja condition true for exactly these variants (None: for all of them)."""
    if len(variants) == len(VARIANTS):
        return None
    for axis, values in AXES.items():  # one value of one axis, whatever the others
        for value, test in values.items():
            if variants == [v for v in VARIANTS if v[axis] == value]:
                return test
    return " or ".join(
        "(" + " and ".join(AXES[axis][value] for axis, value in v.items()) + ")" for v in variants
    )


def template(locks: list[str]) -> str:
    """One Jinja lock from one lock per variant (in VARIANTS' order)."""
    (header,) = {blocks(lock)[0] for lock in locks}
    found: dict[str, list[dict]] = {}
    for variant, lock in zip(VARIANTS, locks, strict=True):
        for block in blocks(lock)[1]:
            found.setdefault(block, []).append(variant)
    out = [header]
    for block in sorted(found, key=lambda b: b.split("==")[0]):
        test = condition(found[block])
        if older := OLDER_ONLY.search(block.splitlines()[0]):
            below = [python for python in PYTHONS if version(python) < version(older[1])]
            python = f"cookiecutter.python_version in {below}".replace("'", '"')
            test = python if test is None else f"({test}) and {python}"
        out.append(block if test is None else f"{{% if {test} -%}}\n{block}{{% endif -%}}\n")
    return "".join(out)


def main(venv: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        results = [compiled(variant, Path(folder), venv) for variant in VARIANTS]
    for name in LOCKS:
        (TEMPLATE_PROJECT / name).write_text(template([result[name] for result in results]))
        print(f"wrote {TEMPLATE_PROJECT.name}/{name} from {len(VARIANTS)} variants")


if __name__ == "__main__":
    main(Path(sys.executable).parent.parent)
