{%- set database = cookiecutter.database == "postgres" -%}
"""The routes. Add more here, or in new modules with their own blueprints."""

from flask import Blueprint
{%- if database %}

from . import database
{%- endif %}

bp = Blueprint("main", __name__)


@bp.get("/")
def hello() -> str:
    return "Hello from Docker! 🐳"


@bp.get("/healthz")
def healthz() -> dict[str, str]:
{%- if database %}
    """Liveness: answers as soon as a worker can serve requests, whatever the database does."""
{%- else %}
    """Liveness and readiness: answers as soon as a worker can serve requests."""
{%- endif %}
    return {"status": "ok"}
{%- if database %}


@bp.get("/readyz")
def readyz():
    """Readiness: 200 once the database answers and holds the newest migration, 503 until."""
    if problem := database.unready():
        return {"status": "unavailable", "reason": problem}, 503
    return {"status": "ok"}
{%- endif %}
