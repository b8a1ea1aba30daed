{%- set database = cookiecutter.database == "postgres" -%}
"""The application factory: Gunicorn serves ``create_app()`` (``wsgi_app`` in gunicorn.conf.py)."""

import os

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from serving.settings import refuse

from . import {% if database %}database, notes, {% endif %}proxies, request_ids, static_files, views

# Flask's settings with a type, as FLASK_* must give them: any other text would stay a string,
# which a switch counts as on (FLASK_DEBUG=no) and a size fails every request with (1MB).
SWITCHES = [name for name, value in Flask.default_config.items() if isinstance(value, bool)] + [
    "DEBUG", "PROPAGATE_EXCEPTIONS", "TRAP_BAD_REQUEST_ERRORS", "TEMPLATES_AUTO_RELOAD",
]  # fmt: skip
# Sizes in bytes, counts and seconds.
NUMBERS = [name for name, value in Flask.default_config.items() if type(value) is int] + [
    "MAX_CONTENT_LENGTH", "SEND_FILE_MAX_AGE_DEFAULT", "PERMANENT_SESSION_LIFETIME",
]  # fmt: skip


def is_switch(value) -> bool:
    return type(value) in (bool, int) and value in (0, 1)


def is_number(value) -> bool:
    return type(value) is int and value >= 0


# Each typed setting: (what is allowed, as a refusal says it; whether a value is).
TYPED = {
    **dict.fromkeys(SWITCHES, ("true, false, 1 or 0", is_switch)),
    **dict.fromkeys(NUMBERS, ("a whole number, 0 or more", is_number)),
    "SESSION_COOKIE_SAMESITE": ("Strict, Lax or None", ["Strict", "Lax", "None"].__contains__),
}


class JSON(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deep to parse is bad JSON like any other."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(settings: dict | None = None) -> Flask:
    """Build the app: Flask's defaults, then FLASK_* environment variables, then ``settings``."""
    app = Flask(__name__)
    # FLASK_SECRET_KEY=... sets SECRET_KEY; values that parse as JSON become numbers or booleans.
    app.config.from_prefixed_env()
    check_types(app.config)
    app.config.update(settings or {})
    app.json = JSON(app)
    # A request the app cannot read (bad JSON, a bad form) gets its reason as JSON.
    app.register_error_handler(BadRequest, lambda error: ({"error": error.description}, 400))
    app.wsgi_app = request_ids.with_request_ids(proxies.from_trusted_proxies(app.wsgi_app))
    app.register_blueprint(views.bp)
    static_files.init_app(app)
{%- if database %}
    database.init_app(app)
    app.register_blueprint(notes.bp)
{%- endif %}
    return app


def check_types(config) -> None:
    """Each FLASK_* setting of a type Flask can use, switches made booleans; or stop with one
    line."""
    for name, (expected, allowed) in TYPED.items():
        if (raw := os.environ.get(f"FLASK_{name}")) is None:
            continue
        if not allowed(config[name]):
            refuse(f"FLASK_{name}={raw[:40]!r}", expected)
        if name in SWITCHES:
            config[name] = bool(config[name])
