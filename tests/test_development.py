"""Development: the README's "Develop" command serves the working tree and reloads on save."""

import os
import signal
import subprocess

from helpers import MESSAGE, commands, get, wait_for


def test_the_develop_command_serves_edits_within_seconds(developed):
    serve = commands(developed / "README.md", "Develop")[1]  # the first made the venv
    port = int(serve.rsplit("--port", 1)[1])
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(["bash", "-c", serve], cwd=developed, start_new_session=True)
    try:
        assert wait_for(lambda: get(url), what="the development server") == (200, MESSAGE)
        views = developed / developed.name / "views.py"
        views.write_text(views.read_text().replace(MESSAGE, "Hello, edited!"))
        # No rebuild, no restart by hand: the reloader picks the change up.
        assert wait_for(lambda: get(url)[1] == "Hello, edited!", timeout=5, what="the edit")
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its reloader
        server.wait(timeout=10)
