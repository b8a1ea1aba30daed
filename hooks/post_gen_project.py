"""Remove the folders left empty by options that were not chosen.

Their files are never written (each one's name renders empty unless its option is chosen), but
cookiecutter creates every folder. A folder that holds anything, such as your own workflow in
.github/workflows after `cookiecutter -f ... ci=no`, stays as it is.
"""

import json
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
FOLDERS = {"k8s": "kubernetes", ".github/workflows": "ci", ".github": "ci"}

for folder, option in FOLDERS.items():
    path = Path(folder)
    if not ANSWERS[option] and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
