"""Static files as the app serves them (static_files.py): with the plain names it has in
development, and with the digest names and compressed copies an image's build gives it."""

import json

import pytest
from flask import url_for

from {{ cookiecutter.project_slug }} import create_app, static_files

CSS = "body { color: #123; }\n"


def test_plain_names_are_checked_again_each_time(client):
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.content_type == "text/css; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Vary"] == "Accept-Encoding"
    again = client.get("/static/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_without_a_manifest_url_for_gives_the_plain_name(app):
    with app.test_request_context():
        assert url_for("static", filename="app.css") == "/static/app.css"


@pytest.fixture
def built(tmp_path, monkeypatch):
    """An app with static files as static_build.py leaves them: a digest copy, a compressed
    copy (its bytes stand in for Brotli's), and the manifest."""
    static = tmp_path / "static"
    static.mkdir()
    for name in ("app.css", "app.0123456789ab.css"):
        (static / name).write_text(CSS)
        (static / f"{name}.br").write_bytes(b"brotli of " + CSS.encode())
    (tmp_path / "static-manifest.json").write_text(json.dumps({"app.css": "app.0123456789ab.css"}))
    (tmp_path / "secret.txt").write_text("outside")
    (static / "outside.txt").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setattr(static_files, "MANIFEST", str(tmp_path / "static-manifest.json"))
    app = create_app({"TESTING": True})
    app.static_folder = str(static)
    return app


def test_url_for_gives_the_digest_name_cached_for_a_year(built):
    with built.test_request_context():
        assert url_for("static", filename="app.css") == "/static/app.0123456789ab.css"
    response = built.test_client().get("/static/app.0123456789ab.css")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data == CSS.encode()


@pytest.mark.parametrize(
    ("accepted", "encoding"), [("gzip, deflate, br, zstd", "br"), ("gzip", None), ("", None)]
)
def test_a_compressed_copy_for_a_client_that_accepts_it(built, accepted, encoding):
    response = built.test_client().get("/static/app.css", headers={"Accept-Encoding": accepted})
    assert response.headers.get("Content-Encoding") == encoding
    assert response.data == (b"brotli of " if encoding else b"") + CSS.encode()
    assert response.content_type == "text/css; charset=utf-8"
    assert response.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    "path", ["/static/", "/static/../__init__.py", "/static/%2e%2e/__init__.py",
             "/static/..%2f__init__.py", "/static/outside.txt", "/static/%00"]
)  # fmt: skip
def test_nothing_outside_the_static_folder(built, path):
    assert built.test_client().get(path).status_code == 404
