"""Remove the folders left empty by options that were not chosen.

Their files are never written (each one's name renders empty unless its option is chosen), but
cookiecutter creates every folder. A folder that holds anything, such as your own workflow in
.github/workflows after `cookiecutter -f ... ci=no`, stays as it is.
"""

import json
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
CHOSEN = {
    "kubernetes": ANSWERS["kubernetes"],
    "ci": ANSWERS["ci"],
    "database": ANSWERS["database"] != "none",
}
# Innermost first: a folder emptied here lets its parent go too.
FOLDERS = {
    "k8s": "kubernetes",
    ".github/workflows": "ci",
    ".github": "ci",
    "migrations/versions": "database",
    "migrations": "database",
}

for folder, option in FOLDERS.items():
    path = Path(folder)
    if not CHOSEN[option] and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
