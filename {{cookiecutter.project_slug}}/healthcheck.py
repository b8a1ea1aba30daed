"""Container health check without curl: exit 0 when /healthz answers 200 on this container's port."""

import os
import sys
import urllib.request

PORT = os.environ.get("PORT", "{{ cookiecutter.port }}")

try:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    sys.exit(f"unhealthy: {error}")
