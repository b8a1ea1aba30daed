"""The app answers as its clients expect: Flask's test client, no server needed."""

import pytest
from flask import request

from {{ cookiecutter.project_slug }} import create_app


def test_root_says_hello(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Hello from Docker! 🐳"


def test_health_endpoint(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unknown_path_is_404(client):
    assert client.get("/missing").status_code == 404


def test_settings_come_from_flask_environment_variables(monkeypatch):
    monkeypatch.setenv("FLASK_MAX_CONTENT_LENGTH", "1048576")
    assert create_app().config["MAX_CONTENT_LENGTH"] == 1048576


@pytest.mark.parametrize(("value", "debug"), [("true", True), ("1", True), ("false", False)])
def test_switches_read_as_booleans(monkeypatch, value, debug):
    monkeypatch.setenv("FLASK_DEBUG", value)
    assert create_app().debug is debug


@pytest.mark.parametrize("value", ["no", "off", "False", "yes", "2", '"true"'])
def test_a_switch_that_is_not_a_boolean_stops_the_app(monkeypatch, value):
    """Any text but true or false would stay a string, and a string counts as on."""
    monkeypatch.setenv("FLASK_DEBUG", value)
    with pytest.raises(SystemExit, match="FLASK_DEBUG=.* is not allowed"):
        create_app()


@pytest.mark.parametrize(
    ("allowed", "believed"), [("127.0.0.1,::1", True), ("10.0.0.0/8", False), ("*", True)]
)
def test_forwarded_headers_count_only_from_trusted_proxies(monkeypatch, allowed, believed):
    """The test client connects from 127.0.0.1: trusted by default, not by 10.0.0.0/8."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
    app = create_app({"TESTING": True})
    app.add_url_rule("/peer", view_func=lambda: f"{request.remote_addr} {request.scheme}")
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    seen = app.test_client().get("/peer", headers=forwarded).get_data(as_text=True)
    assert seen == ("203.0.113.7 https" if believed else "127.0.0.1 http")
