"""The client's address, scheme and host when a reverse proxy forwards the request.

The proxy in front sends them in X-Forwarded-For, -Proto and -Host. They are
believed only from the peers that Gunicorn trusts for the same headers: FORWARDED_ALLOW_IPS,
addresses or networks separated by commas, or * for any peer (default: 127.0.0.1,::1). A
client that reaches Gunicorn directly cannot pass itself off as another.
"""

import ipaddress
import os

from werkzeug.middleware.proxy_fix import ProxyFix


def from_trusted_proxies(app):
    """Wrap a WSGI app: forwarded headers apply when the peer is a trusted proxy, one hop away."""
    setting = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    allowed = [part.strip() for part in setting.split(",")]
    behind_proxy = ProxyFix(app, x_for=1, x_proto=1, x_host=1)
    if "*" in allowed:
        return behind_proxy
    networks = [ipaddress.ip_network(part, strict=False) for part in allowed if part]

    def trusting_known_proxies(environ, start_response):
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            peer = None  # not an IP: a Unix socket, say
        trusted = peer is not None and any(peer in network for network in networks)
        return (behind_proxy if trusted else app)(environ, start_response)

    return trusting_known_proxies
