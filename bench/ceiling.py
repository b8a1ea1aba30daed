"""In-process ceiling: call a Flask app as a plain WSGI callable in a loop, no server, no network.

    python -B bench/ceiling.py APP_PY SECONDS   ->   {"rps": ..., "status": ..., "body": ...}

One process, one thread: the result is requests/s per core, the most any server could get out
of this app on one core of this machine.
"""

import importlib.util
import json
import sys
import time

from werkzeug.test import create_environ


def main() -> None:
    app_py, seconds = sys.argv[1], float(sys.argv[2])
    spec = importlib.util.spec_from_file_location("bench_app", app_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app

    environ = create_environ("/", "http://127.0.0.1/")
    status = []

    def start_response(status_line, headers, exc_info=None):
        status.append(status_line)

    def call() -> bytes:
        status.clear()
        # A fresh copy per call, as a server builds a new environ for every request.
        result = app(dict(environ), start_response)
        try:
            return b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()

    body = call()  # the first request pays for lazy set-up; keep it out of the timing
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):  # check the clock once per 100 calls
            call()
        count += 100
    rps = count / (time.perf_counter() - started)
    print(json.dumps({"rps": rps, "status": status[0], "body": body.decode()}))


if __name__ == "__main__":
    main()
