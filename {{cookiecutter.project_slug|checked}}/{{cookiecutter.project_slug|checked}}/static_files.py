"""Static files (docs/static.md): ``url_for("static", filename="app.css")`` gives the name that
carries a digest of the file's content (``/static/app.3f2a9c1b09ab.css``), from the manifest the
image build wrote beside static/ (static_build.py); without one (development, tests), the plain
name. The app serves both as the edge does (Caddyfile), for when nothing is in front of it: a
digest name is cached for a year, a plain name is checked again each time (ETag, 304), and a
compressed copy goes to a client that accepts it.
"""

import json
import mimetypes
import os

from flask import Flask, abort, request, send_file
from werkzeug.security import safe_join

MANIFEST = "static-manifest.json"
IMMUTABLE = "public, max-age=31536000, immutable"
# The compressed copies static_build.py writes, preferred in this order when a client accepts
# several equally: Brotli's are the smallest.
ENCODINGS = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}


def init_app(app: Flask) -> None:
    manifest = os.path.join(app.root_path, MANIFEST)
    digests = {}
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as file:
            digests = json.load(file)
    immutable = frozenset(digests.values())

    @app.url_defaults
    def digest_names(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename") in digests:
            values["filename"] = digests[values["filename"]]

    def static(filename: str):
        folder = os.path.realpath(app.static_folder)
        path = safe_join(folder, filename)
        # No "..", and no link that leads out of the folder.
        if path is None or not os.path.isfile(path):
            abort(404)
        if os.path.commonpath([folder, os.path.realpath(path)]) != folder:
            abort(404)
        encoding = preferred(path)
        found = mimetypes.guess_type(path)[0] or "application/octet-stream"
        response = send_file(path + ENCODINGS.get(encoding, ""), mimetype=found)
        # A charset for text only, as the edge gives it (Werkzeug adds one to SVG, XML, JS).
        text = found.startswith("text/")
        response.headers["Content-Type"] = f"{found}; charset=utf-8" if text else found
        response.headers["Cache-Control"] = IMMUTABLE if filename in immutable else "no-cache"
        for name in ("Expires", "Content-Disposition"):  # as the edge: neither
            response.headers.pop(name, None)
        response.vary.add("Accept-Encoding")
        if encoding and response.status_code != 304:
            response.headers["Content-Encoding"] = encoding
        return response

    app.view_functions["static"] = static


def preferred(path: str) -> str | None:
    """The encoding of a compressed copy of path that the client accepts, the one it prefers
    (ties in ENCODINGS' order); None for the file itself."""
    accepted = request.accept_encodings
    copies = [encoding for encoding, suffix in ENCODINGS.items() if os.path.isfile(path + suffix)]
    return max((e for e in copies if accepted[e]), key=lambda e: accepted[e], default=None)
