"""The application factory: Gunicorn serves ``create_app()`` (``wsgi_app`` in gunicorn.conf.py)."""

from flask import Flask

from . import proxies, views


def create_app(settings: dict | None = None) -> Flask:
    """Build the app: Flask's defaults, then FLASK_* environment variables, then ``settings``."""
    app = Flask(__name__)
    # FLASK_SECRET_KEY=... sets SECRET_KEY; values that parse as JSON become numbers or booleans.
    app.config.from_prefixed_env()
    app.config.update(settings or {})
    app.wsgi_app = proxies.from_trusted_proxies(app.wsgi_app)
    app.register_blueprint(views.bp)
    return app
