"""Container health check without curl: exit 0 when /healthz answers 200 on this container's port.

It talks to 127.0.0.1 directly: http_proxy and friends set in the container do not apply.
"""

import http.client
import os
import sys

PORT = int(os.environ["PORT"])  # the Dockerfile sets it

try:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
    connection.request("GET", "/healthz")
    status = connection.getresponse().status
except OSError as error:
    sys.exit(f"unhealthy: {error}")
sys.exit(0 if status == 200 else f"unhealthy: /healthz answered {status}")
