"""Remove the files of options that were not chosen."""

import json
import shutil
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
OPTIONAL_FILES = {
    "compose.yaml": "compose",
    "nginx.conf": "compose",
    "k8s": "kubernetes",
    ".github": "ci",
    ".pre-commit-config.yaml": "ci",
}

for name, option in OPTIONAL_FILES.items():
    path = Path(name)
    if ANSWERS[option] is not True:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
