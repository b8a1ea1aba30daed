"""The Compose stack: nginx in front of Gunicorn, as the generated README starts it. It passes on
the client's address, keeps slow clients away from the workers, and both containers run locked
down; Gunicorn on its own believes no forwarded header and falls over under slow clients."""

import http.client
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from helpers import (
    MESSAGE,
    Container,
    add_whoami,
    bake,
    commands,
    docker,
    free_port,
    shell,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(docker_engine, cookies_session):
    """The README's Docker Compose block, verbatim, for a bake with a route of a user's."""
    port = free_port()
    project = bake(cookies_session, project_name=f"Stack {port}", port=str(port))
    add_whoami(project)
    up, curl, down = commands(project / "README.md", "Docker Compose")
    try:
        shell(up, project)
        assert shell(curl, project) == MESSAGE
        yield project, port
    finally:
        shell(down, project, check=False)
        docker("rmi", "-f", f"{project.name.replace('_', '-')}:latest", check=False)
    assert not docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}")


def containers(project: Path) -> dict[str, dict]:
    """The stack's containers by service, as docker inspect shows them."""
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project.name}")
    found = json.loads(docker("inspect", *ids.split()))
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}


def whoami(port: int, **headers: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/whoami", headers=headers)
    return json.loads(connection.getresponse().read())


def test_the_app_sees_the_client_through_the_proxy(stack):
    """The address nginx saw the request come from reaches the app, whatever the client claims."""
    project, port = stack
    seen = whoami(port, **{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    proxy = containers(project)["proxy"]
    access = [line for line in docker("logs", proxy["Id"]).splitlines() if "/whoami" in line]
    nginx_saw = access[-1].split()[0]  # the client's address, first in nginx's access log line
    proxy_address = next(iter(proxy["NetworkSettings"]["Networks"].values()))["IPAddress"]
    assert seen == {"remote_addr": nginx_saw, "scheme": "http"}
    assert nginx_saw not in ("203.0.113.7", proxy_address)


def test_a_client_talking_to_gunicorn_directly_is_not_believed(image):
    tag, _ = image(whoami=True)
    with Container(tag, 6000) as container:
        container.wait_until_serving()
        seen = whoami(container.host_port, **{"X-Forwarded-For": "203.0.113.7",
                                               "X-Forwarded-Proto": "https"})  # fmt: skip
        assert seen["remote_addr"] != "203.0.113.7" and seen["scheme"] == "http"


def test_both_containers_are_locked_down(stack):
    project, port = stack
    found = containers(project)
    assert set(found) == {"proxy", "web"}
    for service, container in found.items():
        config, host = container["Config"], container["HostConfig"]
        assert config["User"] not in ("", "0", "root"), service
        assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["PidsLimit"] and host["Memory"] and host["NanoCpus"], service
        tmp = [m for m in container["Mounts"] if m["Destination"] == "/tmp"]
        assert [m["Type"] for m in tmp] == ["tmpfs"], service
    # Only the proxy publishes a port, on loopback.
    assert found["web"]["HostConfig"]["PortBindings"] in (None, {})
    bindings = [b for ports in found["proxy"]["HostConfig"]["PortBindings"].values() for b in ports]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    # The app can write to /tmp and nowhere else.
    web = found["web"]["Id"]
    docker("exec", web, "touch", "/tmp/upload")
    refused = docker("exec", web, "sh", "-c", "touch /app/file 2>&1 || true")
    assert "Read-only file system" in refused


SLOW_CLIENTS, SECONDS = 50, 60


def under_slow_clients(port: int) -> tuple[int, int]:
    """(answered within 1 s, asked) for GET / asked in a loop while 50 clients send their
    request headers a line every 5 s, reconnecting when the server gives up on them."""
    deadline = time.monotonic() + SECONDS

    def trickle():
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
                    while time.monotonic() < deadline:
                        time.sleep(5)
                        sock.sendall(b"X-Trickle: 1\r\n")
            except OSError:
                time.sleep(0.5)  # dropped by the server: come back, as an attacker would

    slow = [threading.Thread(target=trickle, daemon=True) for _ in range(SLOW_CLIENTS)]
    for thread in slow:
        thread.start()
    answered = asked = 0
    while time.monotonic() < deadline:
        asked += 1
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/")
            response = connection.getresponse()
            ok = response.status == 200 and response.read().decode() == MESSAGE
            answered += ok and time.monotonic() - started <= 1
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    for thread in slow:
        thread.join()
    return answered, asked


def test_slow_clients_do_not_starve_the_app_behind_nginx(stack, image, capsys):
    """The stack answers 99% of requests within 1 s; Gunicorn alone, under the same load, is
    what the proxy is for (its figure is reported beside)."""
    _, port = stack
    proxied = under_slow_clients(port)
    tag, _ = image()
    with Container(tag, 6000) as bare:
        bare.wait_until_serving()
        alone = under_slow_clients(bare.host_port)
    with capsys.disabled():
        print(f"\nslow clients ({SLOW_CLIENTS} for {SECONDS} s), GET / answered within 1 s: "
              f"behind nginx {proxied[0]}/{proxied[1]}, Gunicorn alone {alone[0]}/{alone[1]}")  # fmt: skip
    assert proxied[0] >= 0.99 * proxied[1]
    assert alone[0] < 0.5 * alone[1]
