"""One ID for each request, to find all it did in the logs.

The proxy in front sets X-Request-ID; without one (``docker run``), or when the ID a client sent
is not one, the app makes one. The app's log lines for the request carry it (gunicorn.conf.py),
Gunicorn's access line and the response too.
"""

import re
import uuid

# What counts as an ID, as the proxy in front checks it too: 1 to 128 letters, digits, ".", "_"
# or "-". Anything else (too long, spaces, control or non-ASCII characters) is replaced.
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")


def with_request_ids(app):
    """Wrap a WSGI app: each request gets its ID in X-Request-ID, and each response too."""

    def identified(environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if WELL_FORMED.fullmatch(given) else str(uuid.uuid4())
        environ["HTTP_X_REQUEST_ID"] = request_id

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)

        return app(environ, start)

    return identified
