{%- set database = cookiecutter.database == "postgres" -%}
"""The application factory: Gunicorn serves ``create_app()`` (``wsgi_app`` in gunicorn.conf.py)."""

import os

from flask import Flask

from . import {% if database %}database, notes, {% endif %}proxies, request_ids, static_files, views

# Flask's on/off settings. Read from FLASK_* they must be true or false (1 or 0): any other
# text, such as FLASK_DEBUG=no, would stay a string, and a string counts as on.
SWITCHES = [name for name, value in Flask.default_config.items() if isinstance(value, bool)] + [
    "DEBUG", "PROPAGATE_EXCEPTIONS", "TRAP_BAD_REQUEST_ERRORS", "TEMPLATES_AUTO_RELOAD",
]  # fmt: skip


def create_app(settings: dict | None = None) -> Flask:
    """Build the app: Flask's defaults, then FLASK_* environment variables, then ``settings``."""
    app = Flask(__name__)
    # FLASK_SECRET_KEY=... sets SECRET_KEY; values that parse as JSON become numbers or booleans.
    app.config.from_prefixed_env()
    read_switches(app.config)
    app.config.update(settings or {})
    app.wsgi_app = request_ids.with_request_ids(proxies.from_trusted_proxies(app.wsgi_app))
    app.register_blueprint(views.bp)
    static_files.init_app(app)
{%- if database %}
    database.init_app(app)
    app.register_blueprint(notes.bp)
{%- endif %}
    return app


def read_switches(config) -> None:
    """Each switch set from the environment as a boolean, or stop with one line."""
    for name in SWITCHES:
        raw = os.environ.get(f"FLASK_{name}")
        if raw is None:
            continue
        if type(config[name]) not in (bool, int) or config[name] not in (0, 1):
            refused = f"FLASK_{name}={raw[:40]!r} is not allowed"
            raise SystemExit(f"{__name__}: {refused}; expected true, false, 1 or 0")
        config[name] = bool(config[name])
