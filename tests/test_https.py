"""HTTPS at the edge, with the generated README's HTTPS block run verbatim, pebble's directory
given by the variables it names: pebble, an ACME server, issues the certificate after checking
the domain, which resolves to the edge on the stack's network. A client that trusts pebble's
root gets the app by the domain name; HTTP redirects; HSTS is set; TLS 1.1 is refused; the app
sees https; a restart serves the same certificate with no new order; the backup restores it;
slow clients over TLS do not reach the workers."""

import http.client
import json
import re
import socket
import ssl
from pathlib import Path

import pytest

from helpers import (
    LABEL,
    MESSAGE,
    SECONDS,
    SLOW_CLIENTS,
    add_whoami,
    bake,
    commands,
    docker,
    free_port,
    run,
    shell,
    static_headers,
    static_in,
    under_slow_clients,
    wait_for,
    without_escapes,
)

pytestmark = pytest.mark.docker

DOMAIN = "app.example.test"
# The test's own addition to the stack: pebble, and the edge trusting pebble's directory.
PEBBLE = """
services:
  pebble:
    image: pebble:test
    command: ["pebble", "-config", "/test/config/stack.json", "-dnsserver", "127.0.0.11:53"]
    configs: [{source: pebble_config, target: /test/config/stack.json}]
    networks: [web]
  edge:
    environment:
      ACME_CA_ROOT: /etc/caddy/pebble-listener.pem
    configs: [{source: pebble_listener, target: /etc/caddy/pebble-listener.pem}]
    depends_on: [web, pebble]
configs:
  pebble_config: {file: ./pebble-config.json}
  pebble_listener: {file: ./pebble-listener.pem}
"""
# HTTP-01 on the edge's own HTTP port (8080, published as 80), TLS-ALPN-01 on 443.
PEBBLE_CONFIG = {
    "pebble": {
        "listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
        "certificate": "/test/certs/localhost/cert.pem",
        "privateKey": "/test/certs/localhost/key.pem", "httpPort": 8080, "tlsPort": 443,
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }
}  # fmt: skip


def substitute(line: str, **values: str) -> str:
    """The README's export line with these variables' values in place of its examples."""
    for name, value in values.items():
        line, found = re.subn(rf"\b{name}=\S*", f"{name}={value}", line)
        if not found:
            line += f" {name}={value}"
    return line


@pytest.fixture(scope="module")
def https(docker_engine, cookies_session):
    port = free_port()
    project = bake(cookies_session, project_name=f"Https {port}", port=str(port))
    add_whoami(project)
    listener = docker("run", "--rm", "--entrypoint", "cat", "pebble:test",
                      "/test/certs/pebble.minica.pem")  # fmt: skip
    (project / "pebble-listener.pem").write_text(listener + "\n")
    (project / "pebble-config.json").write_text(json.dumps(PEBBLE_CONFIG))
    (project / "compose.pebble.yaml").write_text(PEBBLE)
    export, up, curl = commands(project / "docs" / "https.md", "HTTPS")
    ports = {"HTTP_PORT": str(free_port()), "HTTPS_PORT": str(free_port()),
             "PUBLISH_PORT": str(port)}  # fmt: skip
    export = substitute(
        export, DOMAIN=DOMAIN, ACME_EMAIL="", ACME_CA="https://pebble:14000/dir",
        COMPOSE_FILE="compose.yaml:compose.https.yaml:compose.pebble.yaml", **ports,
    )  # fmt: skip
    stack = Stack(project, export, ports)
    try:
        stack.run(up)
        stack.wait_for_certificate()
        yield stack, curl
    finally:
        stack.run("docker compose down --volumes", check=False)
        image = project.name.replace("_", "-")
        docker("rmi", "-f", f"{image}:latest", f"{image}-edge:latest", check=False)


class ToEdge(http.client.HTTPSConnection):
    """HTTPS to the domain, through the port published on 127.0.0.1: the name is sent (SNI,
    Host) and checked against the certificate, but never looked up here."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Stack:
    """The HTTPS stack: commands run after the README's export line, and a client that trusts
    pebble's root."""

    def __init__(self, project: Path, export: str, ports: dict):
        self.project, self.export = project, export
        self.https_port, self.http_port = int(ports["HTTPS_PORT"]), int(ports["HTTP_PORT"])

    def run(self, command: str, check: bool = True, **environ: str) -> str:
        return without_escapes(
            shell(f"{self.export}\n{command}", self.project, check=check, **environ)
        )

    def root(self) -> str:
        """The root pebble issues from, new at each start of pebble: from its management port,
        which only the stack's network reaches."""
        pebble = self.run("docker compose ps -q pebble").strip()
        fetch = ("import ssl, urllib.request as u; print(u.urlopen('https://127.0.0.1:15000/roots/0'"
                 ", context=ssl._create_unverified_context()).read().decode())")  # fmt: skip
        return docker("run", "--rm", "--label", LABEL, "--network", f"container:{pebble}",
                      "python:3.11-slim", "python", "-c", fetch)  # fmt: skip

    def context(self, **versions) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.root())
        for name, version in versions.items():
            setattr(context, name, version)
        return context

    def get(self, path: str = "/", context: ssl.SSLContext | None = None):
        connection = ToEdge(DOMAIN, self.https_port, timeout=10, context=context or self.context())
        connection.request("GET", path, headers={"Host": DOMAIN})  # as on port 443
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()

    def certificate(self) -> dict:
        connection = ToEdge(DOMAIN, self.https_port, timeout=10, context=self.context())
        connection.connect()
        try:
            return connection.sock.getpeercert()
        finally:
            connection.close()

    def orders(self) -> int:
        """The certificate orders pebble has taken."""
        return self.run("docker compose logs pebble").count("Added order")

    def wait_for_certificate(self):
        wait_for(lambda: self.get()[0] == 200, 120,
                 f"a certificate for {DOMAIN}\n{self.run('docker compose logs edge pebble')}")  # fmt: skip


def test_the_readme_block_serves_https_by_the_domain(https, tmp_path):
    """The README's curl too, verbatim: curl's own config file sends the domain to the published
    port and trusts pebble's root, as DNS and a public CA would."""
    stack, curl = https
    status, headers, body = stack.get()
    assert (status, body) == (200, MESSAGE)
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert "Server" not in headers
    assert stack.certificate()["subjectAltName"] == (("DNS", DOMAIN),)
    (tmp_path / "root.pem").write_text(stack.root())
    (tmp_path / ".curlrc").write_text(
        f'connect-to = "{DOMAIN}:443:127.0.0.1:{stack.https_port}"\n'
        f'cacert = "{tmp_path / "root.pem"}"\n'
    )
    assert stack.run(curl, CURL_HOME=str(tmp_path)) == MESSAGE


def test_http_redirects_to_https_and_answers_the_challenge_port(https):
    stack, _ = https
    connection = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=5)
    connection.request("GET", "/whoami?x=1", headers={"Host": DOMAIN})
    response = connection.getresponse()
    assert response.status == 308
    assert response.getheader("Location") == f"https://{DOMAIN}/whoami?x=1"


def test_the_app_sees_https_and_the_client(https):
    stack, _ = https
    seen = json.loads(stack.get("/whoami")[2])
    assert seen["scheme"] == "https" and seen["url"] == f"https://{DOMAIN}/whoami"


def test_static_files_and_their_headers_over_https(https, capsys):
    """As over HTTP (test_proxy.py): url_for's digest names and the plain names, with each
    Accept-Encoding, the build's compressed copies and their headers, HSTS too."""
    stack, _ = https
    web = stack.run("docker compose ps -q web").split()[0]
    urls, files = static_in(["exec", web], stack.project.name)
    context = stack.context()

    def ask(requests: list[tuple[str, dict]]) -> list[tuple]:
        answers = []
        for path, headers in requests:
            connection = ToEdge(DOMAIN, stack.https_port, timeout=10, context=context)
            connection.request("GET", path, headers={"Host": DOMAIN, **headers})
            response = connection.getresponse()
            answers.append((response.status, response.msg, response.read()))
        return answers

    table = static_headers(ask, urls, files)
    for status, headers, _ in ask([(urls["app.css"], {}), ("/static/missing.css", {})]):
        assert headers["Strict-Transport-Security"].startswith("max-age="), status
        assert headers.get_all("X-Content-Type-Options") == ["nosniff"], status
        assert "Server" not in headers, status
    with capsys.disabled():
        print("\nstatic files over HTTPS, at the edge:")
        for row in table:
            print("  " + " | ".join(map(str, row)))


def test_only_tls_1_2_and_1_3(https):
    stack, _ = https
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = stack.context(minimum_version=version, maximum_version=version)
        assert stack.get(context=context)[0] == 200, version
    old = stack.context(minimum_version=ssl.TLSVersion.TLSv1_1,
                        maximum_version=ssl.TLSVersion.TLSv1_1)  # fmt: skip
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
    with pytest.raises(ssl.SSLError, match="(?i)protocol version|unsupported protocol"):
        stack.get(context=old)


def test_a_restart_keeps_the_certificate_with_no_new_order(https, capsys):
    stack, _ = https
    before, orders = stack.certificate()["serialNumber"], stack.orders()
    stack.run("docker compose restart edge")
    stack.wait_for_certificate()
    after = stack.certificate()["serialNumber"]
    with capsys.disabled():
        print(f"\ncertificate serial before the restart {before}, after {after}; pebble's "
              f"orders {orders} then {stack.orders()}")  # fmt: skip
    assert after == before and stack.orders() == orders


# testssl.sh's findings that only a private test CA causes, with what a public one gives:
TEST_CA_ONLY = {
    # pebble's certificates name no OCSP responder nor CRL; Let's Encrypt's name a CRL.
    "cert_revocation": "no CRL nor OCSP in pebble's certificates",
    # pebble issues for 5 years; Let's Encrypt for 90 days at most.
    "cert_validityPeriod": "pebble's validity period",
}


def test_testssl_finds_nothing_of_medium_or_higher(https, tmp_path, capsys):
    """Debian's testssl.sh, a full default scan of the domain through the published port,
    trusting pebble's root: no finding of MEDIUM or higher but those of a test CA."""
    stack, _ = https
    (tmp_path / "root.pem").write_text(stack.root())
    report = tmp_path / "testssl.json"
    run("testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
        "--ip", "127.0.0.1", "--add-ca", str(tmp_path / "root.pem"), "--jsonfile", str(report),
        f"https://{DOMAIN}:{stack.https_port}/", check=False, timeout=900)  # fmt: skip
    found = {f["id"]: f for f in json.loads(report.read_text())}
    assert found["TLS1_3"]["finding"].startswith("offered"), found.get("scanProblem")  # it ran
    serious = [(f["id"], f["severity"], f["finding"]) for f in found.values()
               if f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")]  # fmt: skip
    with capsys.disabled():
        print("\ntestssl.sh, MEDIUM or higher:", serious or "none")
    assert [finding for finding in serious if finding[0] not in TEST_CA_ONLY] == []


def test_slow_clients_over_tls_do_not_starve_the_app(https, capsys):
    stack, _ = https
    answered, asked = under_slow_clients(stack.https_port, stack.context(), DOMAIN)
    with capsys.disabled():
        print(f"\n{SLOW_CLIENTS} clients trickling headers and {SLOW_CLIENTS} bodies for {SECONDS} s, "
              f"HTTPS through Caddy: {answered}/{asked} answered within 1 s")  # fmt: skip
    assert answered >= 0.99 * asked


def test_the_readmes_backup_restores_the_certificate(https):
    """Backed up, the volume emptied, restored: the same certificate, and no new order."""
    stack, _ = https
    backup, restore = commands(stack.project / "docs" / "https.md", "HTTPS", block=1)
    before, orders = stack.certificate()["serialNumber"], stack.orders()
    stack.run(backup)
    assert (stack.project / "edge-data.tgz").stat().st_size > 1000
    stack.run("docker compose stop edge")
    stack.run("docker compose run --rm --no-deps -T --entrypoint sh edge -c 'rm -rf /data/caddy/*'")
    stack.run(restore)
    stack.run("docker compose start edge")
    stack.wait_for_certificate()
    assert stack.certificate()["serialNumber"] == before and stack.orders() == orders
