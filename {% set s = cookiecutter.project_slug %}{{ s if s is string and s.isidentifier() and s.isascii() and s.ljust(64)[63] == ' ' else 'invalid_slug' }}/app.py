"""The WSGI application: Gunicorn imports ``app`` from this module (``app:app``)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello from Docker! 🐳"


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness and readiness: answers as soon as a worker can serve requests."""
    return {"status": "ok"}
