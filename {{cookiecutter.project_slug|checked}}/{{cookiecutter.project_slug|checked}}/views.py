"""The routes. Add more here, or in new modules with their own blueprints."""

from flask import Blueprint

bp = Blueprint("main", __name__)


@bp.get("/")
def hello() -> str:
    return "Hello from Docker! 🐳"


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Health checks: answers as soon as a worker can serve requests."""
    return {"status": "ok"}
