"""Flask's development server, for development only (README.md, "Develop"):

    flask --app develop run --debug

Flask's reloader starts a new server when a file changes, but it takes note of the files only
once the app has loaded: a file saved while the app was loading (an error fixed right after it
was saved, a second save of an editor) would go unseen, and the server would keep the code it
read. So this module also notes the package's code before loading it, and starts a new server
whenever that code changes.
"""

import functools
import hashlib
import os
import threading
import time
from pathlib import Path

from flask import Flask
from werkzeug.serving import is_running_from_reloader

PACKAGE = Path(__file__).parent / "{{ cookiecutter.project_slug }}"


def code() -> bytes:
    """A digest of the package's Python files: their names and their content."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:  # deleted while listed: the next look sees the change
            continue
    return digest.digest()


def restart_on_change(read: bytes) -> None:
    while code() == read:
        time.sleep(0.5)
    os._exit(3)  # the status on which Flask's reloader starts a new server


@functools.cache
def load():
    from {{ cookiecutter.project_slug }} import create_app

    return create_app()


if is_running_from_reloader():  # a server: note the code, then load it
    threading.Thread(target=restart_on_change, args=(code(),), daemon=True).start()
    app = load()
else:  # the reloader, which only starts servers (without it, the app loads at the first request)
    app = Flask(__name__)
    app.wsgi_app = lambda environ, start_response: load()(environ, start_response)
