"""The Compose stack, as the generated README starts it: Caddy in front of Gunicorn, with
PostgreSQL and metrics. The app sees the client's address, slow clients (headers or bodies)
never reach a worker, a body past the limit gets a 413, every container runs locked down, one
request ID runs from the edge to the logs, /metrics stays inside, static files are Caddy's
alone (with the headers the app gives them too, and nothing outside their folder), and the data
outlives the stack; Gunicorn on its own believes no forwarded header and falls over under slow
clients."""

import http.client
import json
import os
import re
import socket
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from helpers import (
    LABEL,
    MESSAGE,
    SECONDS,
    SLOW_CLIENTS,
    Container,
    add_links,
    add_whoami,
    ask_the_app,
    at_edge,
    bake,
    commands,
    docker,
    free_port,
    post_note,
    refused,
    run,
    shell,
    static_headers,
    static_in,
    tool,
    under_slow_clients,
    wait_for,
    without_escapes,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(docker_engine, cookies_session):
    """The README's Docker Compose block, verbatim, for a bake with the database, metrics and a
    route of a user's; Gunicorn's access log on, as its environment allows."""
    port = free_port()
    project = bake(cookies_session, project_name=f"Stack {port}", port="7123",
                   database="postgres", metrics="yes")  # fmt: skip
    add_whoami(project)
    add_links(project)
    # The edge on a port of its own, as docs/compose.md says to move it.
    (project / ".env").write_text(f"PUBLISH_PORT={port}\n")
    secret = commands(project / "README.md", "In a container")[0]
    up, curl, down = commands(project / "docs" / "compose.md", "Docker Compose")
    shell(secret, project)
    try:
        shell(up, project, ACCESS_LOG="on")
        assert shell(at_edge(curl, port), project) == MESSAGE
        yield project, port
    finally:
        shell(f"{down} --volumes", project, check=False)
        image = project.name.replace("_", "-")
        docker("rmi", "-f", f"{image}:latest", f"{image}-edge:latest", check=False)
    assert not docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}")


def containers(project: Path) -> dict[str, dict]:
    """The stack's containers by service (the first replica of each), as docker inspect shows."""
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project.name}")
    found = json.loads(docker("inspect", *ids.split()))
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in sorted(
        found, key=lambda c: c["Name"], reverse=True)}  # fmt: skip


def request(port: int, path: str, method: str = "GET", **headers: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    return response.status, response.msg, response.read()  # msg: headers, repeated ones kept


def test_the_app_sees_the_client_through_the_proxy(stack):
    """The address Caddy saw the request come from reaches the app, whatever the client claims."""
    project, port = stack
    claims = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    _, _, body = request(port, "/whoami", **claims)
    seen = json.loads(body)
    edge = containers(project)["edge"]
    access = [json.loads(line) for line in docker("logs", edge["Id"]).splitlines()
              if '"uri":"/whoami"' in line]  # fmt: skip
    caddy_saw = access[-1]["request"]["remote_ip"]
    edge_address = next(iter(edge["NetworkSettings"]["Networks"].values()))["IPAddress"]
    assert (seen["remote_addr"], seen["scheme"]) == (caddy_saw, "http")
    assert caddy_saw not in ("203.0.113.7", edge_address)


def test_a_client_talking_to_gunicorn_directly_is_not_believed(image):
    tag, _ = image(whoami=True)
    with Container(tag, 6000) as container:
        container.wait_until_serving()
        claims = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        seen = json.loads(request(container.host_port, "/whoami", **claims)[2])
        assert seen["remote_addr"] != "203.0.113.7" and seen["scheme"] == "http"


def test_every_container_is_locked_down(stack):
    project, port = stack
    found = containers(project)
    assert set(found) == {"edge", "web", "db"}
    for service, container in found.items():
        config, host = container["Config"], container["HostConfig"]
        assert config["User"] not in ("", "0", "root"), service
        assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"], service
        # Caddy's binary carries the one to bind ports below 1024 (the HTTPS stack's 443).
        assert host["CapAdd"] == (["NET_BIND_SERVICE"] if service == "edge" else None), service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["PidsLimit"] and host["Memory"] and host["NanoCpus"], service
    # Only the edge publishes a port, on loopback.
    for service in ("web", "db"):
        assert found[service]["HostConfig"]["PortBindings"] in (None, {}), service
    bindings = [b for ports in found["edge"]["HostConfig"]["PortBindings"].values() for b in ports]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    # The app can write to /tmp and nowhere else.
    web = found["web"]["Id"]
    docker("exec", web, "touch", "/tmp/upload")
    refused = docker("exec", web, "sh", "-c", "touch /app/file 2>&1 || true")
    assert "Read-only file system" in refused


# What the edge adds to every response, unless the app set it: (header, value).
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
]


def assert_edge_headers(sent: http.client.HTTPMessage, case) -> None:
    """The edge's security headers once each, and no header naming what runs behind."""
    for name, value in SECURITY_HEADERS:
        assert sent.get_all(name) == [value], (case, name, sent.items())
    assert "Server" not in sent and "Via" not in sent, (case, sent.items())


def test_a_body_past_the_limit_gets_a_413(stack):
    """With the edge's security headers (and no Server or Via header), as on every answer."""
    _, port = stack
    limit = 1048576
    for size, expected in ((limit, 201), (limit + 1, 413)):
        body = json.dumps({"text": "x"}) + " " * (size - len(json.dumps({"text": "x"})))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST", "/notes", body=body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        assert response.status == expected, size
        assert_edge_headers(response.msg, size)
    # Sent in chunks, with no length declared: cut at the limit all the same.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    chunks = (b" " * 65536 for _ in range(limit // 65536 + 2))
    connection.request("POST", "/notes", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert connection.getresponse().status == 413


def test_security_headers_on_every_response_and_the_apps_own_kept(stack):
    """The edge's headers once each on the app's answers, a 404 too, and on the edge's own
    refusals (a POST to a file, a NUL; a 413: the test above); no Server or Via header; a page
    that sets its own keeps them, not doubled."""
    _, port = stack
    answers = {
        (path, method, status): request(port, path, method, **headers)
        for path, method, status, headers in (
            ("/", "GET", 200, {}), ("/whoami", "GET", 200, {}), ("/missing", "GET", 404, {}),
            ("/static/app.css", "POST", 405, {}), ("/static/%00", "GET", 400, {}),
        )
    }  # fmt: skip
    for (path, method, status), (sent_status, sent, _) in answers.items():
        assert sent_status == status, (path, method, sent_status)
        assert_edge_headers(sent, (path, method))
    sent = request(port, "/framed")[1]
    assert sent.get_all("X-Frame-Options") == ["SAMEORIGIN"], sent.items()
    assert sent.get_all("Referrer-Policy") == ["no-referrer"], sent.items()
    assert sent.get_all("X-Content-Type-Options") == ["nosniff"], sent.items()


def test_gunicorn_alone_names_itself_and_adds_no_security_headers(image):
    """What the generated README says of `docker run` without the edge."""
    tag, _ = image(whoami=True)
    with Container(tag, 6000) as container:
        container.wait_until_serving()
        sent = request(container.host_port, "/")[1]
        assert sent.get_all("Server") == ["gunicorn"]
        assert [name for name, _ in SECURITY_HEADERS if name in sent] == []


# Slow clients, through the edge and against Gunicorn alone.


def test_slow_clients_do_not_starve_the_app_behind_the_edge(stack, capsys):
    _, port = stack
    answered, asked = under_slow_clients(port)
    with capsys.disabled():
        print(f"\n{SLOW_CLIENTS} clients trickling headers and {SLOW_CLIENTS} bodies for {SECONDS} s, "
              f"HTTP through Caddy: {answered}/{asked} answered within 1 s")  # fmt: skip
    assert answered >= 0.99 * asked


def test_slow_clients_starve_gunicorn_alone(image, capsys):
    """What the edge is for: slow headers on Gunicorn with nothing in front. Its 3 workers are
    taken by the first 3 slow clients, at once: 20 s show it."""
    tag, _ = image()
    with Container(tag, 6000) as bare:
        bare.wait_until_serving()
        answered, asked = under_slow_clients(bare.host_port, kinds=("headers",), seconds=20)
    with capsys.disabled():
        print(f"\n{SLOW_CLIENTS} clients trickling headers for 20 s, Gunicorn alone: "
              f"{answered}/{asked} answered within 1 s")  # fmt: skip
    assert answered < 0.5 * asked


# Static files, at the edge and in the app alone.


def ask_the_edge(port: int):
    """An ask(requests) that sends each (path, headers) through the stack's edge."""
    return lambda requests: [request(port, path, **headers) for path, headers in requests]


def test_static_files_and_their_headers_at_the_edge_and_in_the_app(stack, capsys):
    """url_for's digest names and the plain names, with each Accept-Encoding: the build's
    compressed copies, the same headers from Caddy and from the app alone, and the edge's
    security headers (a 404 too)."""
    project, port = stack
    web = containers(project)["web"]["Id"]
    urls, files = static_in(["exec", web], project.name)
    at_edge = static_headers(ask_the_edge(port), urls, files)
    assert static_headers(ask_the_app(web), urls, files) == at_edge
    for path in (urls["app.css"], "/static/favicon.svg", "/static/missing.css"):
        assert_edge_headers(request(port, path, **{"Accept-Encoding": "br"})[1], path)
    with capsys.disabled():
        print("\nstatic files over HTTP, at the edge and in the app alone (the same):")
        for row in at_edge:
            print("  " + " | ".join(map(str, row)))


def test_static_requests_never_reach_a_worker(stack, capsys):
    """1,000 static requests through the edge: answered, in neither access log (Gunicorn's with
    ACCESS_LOG=on; Caddy leaves them out of its own); the GET / sent after them are in both."""
    project, port = stack
    urls, _ = static_in(["exec", containers(project)["web"]["Id"]], project.name)
    paths = [urls["app.css"], "/static/app.css", urls["favicon.svg"], "/static/favicon.svg"]
    run_id = uuid.uuid4().hex[:8]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # kept alive
    for number in range(1000):
        headers = {"X-Request-ID": f"static-{run_id}-{number}",
                   "Accept-Encoding": ["br", "gzip", "identity"][number % 3]}  # fmt: skip
        connection.request("GET", paths[number % len(paths)], headers=headers)
        response = connection.getresponse()
        assert response.status == 200 and response.read()
    connection.close()
    for number in range(10):
        assert request(port, "/", **{"X-Request-ID": f"root-{run_id}-{number}"})[0] == 200
    wait_for(lambda: len(lines_with(project, "web", f"request_id=root-{run_id}-")) == 10, 10,
             "Gunicorn's access lines for GET /")  # fmt: skip
    wait_for(lambda: len(lines_with(project, "edge", f"root-{run_id}-")) == 10, 10,
             "Caddy's access lines for GET /")  # fmt: skip
    web, edge = (lines_with(project, service, f"static-{run_id}-") for service in ("web", "edge"))
    with capsys.disabled():
        print(f"\n1,000 static requests: {len(web)} in Gunicorn's access log, {len(edge)} in "
              "Caddy's; 10 GET / in both")  # fmt: skip
    assert web == [] and edge == []


def test_nothing_outside_the_static_folder_at_the_edge_or_in_the_app(stack, capsys):
    project, port = stack
    at_edge = refused(ask_the_edge(port))
    in_app = refused(ask_the_app(containers(project)["web"]["Id"]))
    with capsys.disabled():
        print("\ntraversal, edge / app alone:")
        for path in at_edge:
            print(f"  {path!r}: {at_edge[path]} / {in_app[path]}")
    assert set(at_edge.values()) | set(in_app.values()) <= {400, 404}


def test_the_docs_static_commands(stack):
    project, port = stack
    up, manifest, head = commands(project / "docs" / "static.md", "Try it")
    shell(up, project, ACCESS_LOG="on")
    names = json.loads(shell(manifest, project))
    assert set(names) == {"app.css", "favicon.svg"}
    assert re.fullmatch(r"app\.[0-9a-f]{12}\.css", names["app.css"])
    sent = shell(at_edge(head, port), project).lower().splitlines()
    for line in ("http/1.1 200 ok", "cache-control: no-cache", "content-encoding: br",
                 "content-type: text/css; charset=utf-8", "vary: accept-encoding"):  # fmt: skip
        assert line in map(str.strip, sent), sent
    assert [line for line in sent if line.startswith("etag: ")]


# Request IDs and metrics.


def lines_with(project: Path, service: str, text: str) -> list[str]:
    """Lines of a service's containers (every replica) that hold the text, without prefixes."""
    logs = shell(f"docker compose logs --no-log-prefix --no-color {service}", project)
    return [line for line in without_escapes(logs).splitlines() if text in line]


def test_one_request_id_from_the_edge_to_the_logs(stack, capsys):
    """The edge's access line, the app's own line, Gunicorn's access line and the response
    carry the same ID: the client's when well formed, otherwise a new one."""
    project, port = stack
    hostile = {
        "10 kB": "a" * 10_000,
        "spaces": "two words",
        "non-ASCII": "identifiant-été",
        "CR/LF": None,  # sent raw below: a header line folded onto the next
    }
    seen = {}
    for name, value in [("well formed", "client-id.42_x"), *hostile.items(), ("none", "")]:
        if value is None:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: abc\r\n"
                             b" injected: yes\r\nConnection: close\r\n\r\n")  # fmt: skip
                reply = b"".join(iter(lambda: sock.recv(65536), b"")).decode("latin-1")
            status = int(reply.split()[1])
            header = re.search(r"(?im)^X-Request-Id: (.*)\r$", reply)
            seen[name] = (status, header[1] if header else None)
            continue
        headers = {"X-Request-ID": value.encode().decode("latin-1")} if value else {}
        status, response_headers, body = request(port, "/whoami", **headers)
        given = response_headers.get("X-Request-Id")
        assert status == 200 and json.loads(body)["request_id"] == given
        seen[name] = (status, given)
        app_lines = wait_for(lambda g=given: lines_with(project, "web", f"request_id={g}"), 10,
                             "the app's lines")  # fmt: skip
        edge = [json.loads(line) for line in lines_with(project, "edge", given)]
        assert edge and edge[-1]["request_id"] == given
        assert any("whoami from" in line for line in app_lines), app_lines  # the app's own
        assert any("gunicorn.access" in line for line in app_lines), app_lines
    with capsys.disabled():
        print("\nrequest IDs:", {k: (s, v if v is None or len(v) < 50 else v[:20] + "...")
                                 for k, (s, v) in seen.items()})  # fmt: skip
    assert seen["well formed"][1] == "client-id.42_x"
    for name in ("10 kB", "spaces", "non-ASCII", "none"):
        assert re.fullmatch(r"[0-9a-f-]{36}", seen[name][1]), (name, seen[name])
    # A folded header: refused outright, or its value replaced; never passed on as sent.
    status, given = seen["CR/LF"]
    assert status == 400 or re.fullmatch(r"[0-9a-f-]{36}", given), seen["CR/LF"]


def test_the_readmes_request_id_commands(stack):
    project, port = stack
    response, logs = commands(project / "docs" / "compose.md", "Request IDs")
    assert shell(at_edge(response, port), project).strip().lower() == "x-request-id: my-request-1"
    found = without_escapes(shell(logs, project)).splitlines()
    assert {line.split()[0].rsplit("-", 1)[0] for line in found} >= {"edge", "web"}, found


def test_metrics_answer_inside_the_stack_only(stack):
    """The README's scrape, from inside the stack; through the edge's public port, a 404."""
    project, port = stack
    assert request(port, "/metrics")[0] == 404
    for _ in range(2):  # Caddy takes turns: one GET / for each replica, the scraped one too
        assert request(port, "/")[0] == 200
    text = shell(commands(project / "docs" / "metrics.md", "Metrics")[0], project)
    assert re.search(
        r'^http_requests_total\{method="GET",route="/",status="200"\} \d', text, re.MULTILINE
    )
    assert re.search(r"^gunicorn_workers 3\.0$", text, re.MULTILINE)


def edge_check(project: Path) -> str:
    """The edge's entrypoint script from compose.yaml, as the shell gets it from Compose."""
    edge = yaml.safe_load((project / "compose.yaml").read_text())["services"]["edge"]
    assert edge["entrypoint"][:2] == ["sh", "-c"]
    return edge["entrypoint"][2].replace("$$", "$")


EDGE_SETTINGS = {"MAX_BODY_SIZE": "1048576", "PORT": "6000", "DOMAIN": "",
                 "ACME_EMAIL": "", "ACME_CA": "https://acme-v02.api.letsencrypt.org/directory"}  # fmt: skip
BAD_EDGE_SETTINGS = [
    ("MAX_BODY_SIZE", "abc"), ("MAX_BODY_SIZE", "-1"), ("MAX_BODY_SIZE", "1MB"),
    ("MAX_BODY_SIZE", "0"), ("MAX_BODY_SIZE", "9" * 20), ("MAX_BODY_SIZE", "67108865"),
    ("MAX_BODY_SIZE", ""), ("PORT", "80"), ("PORT", "65536"), ("PORT", "web"),
    ("DOMAIN", "app.example.test:8443"), ("DOMAIN", "https://example.com"),
    ("DOMAIN", "example.com/app"), ("DOMAIN", "exa mple.com"), ("DOMAIN", "localhost"),
    ("ACME_EMAIL", "you"), ("ACME_EMAIL", "you@example"), ("ACME_CA", "http://ca.example/dir"),
]  # fmt: skip


def test_the_edge_refuses_each_bad_setting_in_one_line(stack):
    """The checks compose.yaml runs before Caddy starts, run the same way in the edge's image:
    exit 1 and one line naming the variable, for each bad value."""
    project, _ = stack
    script, image = edge_check(project), containers(project)["edge"]["Config"]["Image"]
    for name, value in BAD_EDGE_SETTINGS:
        environment = [f"{k}={v}" for k, v in {**EDGE_SETTINGS, name: value}.items()]
        refused = run("docker", "run", "--rm", "--label", LABEL, "--entrypoint", "sh",
                      *[a for e in environment for a in ("-e", e)], image, "-c", script,
                      check=False)  # fmt: skip
        assert refused.returncode == 1, (name, value, refused.stdout, refused.stderr)
        assert (
            refused.stderr
            == f"error: {name}='{value}' is not allowed; expected "
            + refused.stderr.split("; expected ", 1)[1]
        ), (name, value)
        assert refused.stderr.count("\n") == 1, refused.stderr


class Load:
    """Clients asking the stack for notes, and adding some, until stopped: each answer's
    status and how long it took."""

    def __init__(self, port: int, clients: int = 4):
        self.port, self.answers, self.stopping = port, [], threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,)) for i in range(clients)]
        for thread in self.threads:
            thread.start()

    def client(self, number: int) -> None:
        body, headers = json.dumps({"text": "under load"}), {"Content-Type": "application/json"}
        while not self.stopping.is_set():
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                if number % 2:
                    connection.request("POST", "/notes", body, headers)
                else:
                    connection.request("GET", "/notes")
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
            finally:
                connection.close()
            self.answers.append((status, time.monotonic() - started))

    def stop(self) -> Counter:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        return Counter(status for status, _ in self.answers)


def test_the_database_stopped_paused_and_restarted_under_load_costs_only_503s(stack, capsys):
    """docker compose pause db for 40 s, then stop and start it, while clients keep asking:
    each request answered 200, 201 or 503 in seconds, and no worker timed out or restarted."""
    project, port = stack
    before = shell("docker compose logs web", project).count("Booting worker")
    load = Load(port)
    try:
        time.sleep(5)  # some answers with the database up
        shell("docker compose pause db", project)
        time.sleep(40)
        shell("docker compose unpause db", project)
        shell("docker compose stop db", project)
        time.sleep(5)
        shell("docker compose start db", project)
        wait_for(lambda: request(port, "/readyz")[0] == 200, 60, "the app ready again")
    finally:
        counts = load.stop()
    slowest = max(seconds for _, seconds in load.answers)
    with capsys.disabled():
        print(f"\ndatabase paused 40 s, stopped and started, under load: {dict(counts)}, "
              f"slowest answer {slowest:.1f} s")  # fmt: skip
    logs = shell("docker compose logs web", project)
    errors = [line for line in logs.splitlines() if "ERROR" in line or "Error" in line]
    assert set(counts) <= {200, 201, 503} and counts[503] and counts[200], (counts, errors[-40:])
    assert slowest < 20  # Gunicorn's timeout is 30 s
    assert "WORKER TIMEOUT" not in logs and logs.count("Booting worker") == before


# The data, last: these stop and start the stack.


def notes(port: int) -> list[str]:
    return [note["text"] for note in json.loads(request(port, "/notes")[2])]


def test_the_readmes_migration_command_writes_a_new_migration(stack):
    """From the development containers, with the database of compose.dev.yaml."""
    project, _ = stack
    (revision,) = commands(project / "docs" / "database.md", "Database")
    versions = project / "migrations" / "versions"
    before = set(versions.iterdir())
    try:
        shell(revision, project)
    finally:
        shell("docker compose -f compose.dev.yaml down --volumes --rmi local", project, check=False)
    (made,) = set(versions.iterdir()) - before
    try:
        assert made.name.endswith("_describe_the_change.py") and made.stat().st_uid == os.getuid()
        assert 'down_revision = "0001"' in made.read_text()
        # As the project's CI lints it.
        run(tool("ruff"), "check", "--no-cache", str(made), cwd=project)
        run(tool("ruff"), "format", "--check", "--no-cache", str(made), cwd=project)
    finally:
        made.unlink()


def test_the_data_outlives_the_stack_and_the_readmes_backup_restores_it(stack):
    project, port = stack
    for text in ("kept", "backed up"):
        assert post_note(f"http://127.0.0.1:{port}/notes", text) == 201
    backup, restore = commands(project / "docs" / "database.md", "Database", block=1)
    shell(backup, project)
    assert (project / "app.dump").read_bytes().startswith(b"PGDMP")
    drop = "docker compose exec -T db psql --username app --dbname app -c 'DELETE FROM notes'"
    shell(drop, project)
    assert notes(port) == []
    shell(restore, project)
    assert notes(port)[:2] == ["backed up", "kept"]
    # The README's down and up: the volume stays.
    # The README's down, and its whole block again: the volume stays, and so does the password.
    secret = commands(project / "README.md", "In a container")[0]
    up, curl, down = commands(project / "docs" / "compose.md", "Docker Compose")
    password = (project / "secrets" / "db_password").read_text()
    shell(down, project)
    shell(secret, project)
    shell(up, project, ACCESS_LOG="on")
    assert shell(at_edge(curl, port), project) == MESSAGE
    assert (project / "secrets" / "db_password").read_text() == password
    assert notes(port)[:2] == ["backed up", "kept"]


def test_up_wait_fails_when_the_edge_cannot_serve(stack):
    """A user who sets MAX_BODY_SIZE=1MB: `docker compose up --wait` fails instead of reporting
    a healthy stack, and the edge's line names the variable; the stack is then put back. A PORT
    set for the app alone: the edge's health check, run in the edge, fails and says why."""
    project, port = stack
    up, curl, _ = commands(project / "docs" / "compose.md", "Docker Compose")
    failed = run("bash", "-c", up, cwd=project, env={**os.environ, "MAX_BODY_SIZE": "1MB"},
                 check=False)  # fmt: skip
    assert failed.returncode != 0
    edge = shell("docker compose logs edge", project)
    assert "error: MAX_BODY_SIZE='1MB' is not allowed; expected bytes, from 1 to 67108864" in edge
    shell(up, project, ACCESS_LOG="on")
    assert shell(at_edge(curl, port), project) == MESSAGE

    health = containers(project)["edge"]["Config"]["Healthcheck"]["Test"]
    assert health[0] == "CMD-SHELL"
    check = ["docker", "compose", "exec", "-T", "edge", "sh", "-c", health[1]]
    assert run(*check, cwd=project).returncode == 0  # the app answers on the edge's PORT, 7123
    wrong = run(*check[:4], "-e", "PORT=7000", *check[4:], cwd=project, check=False)
    assert wrong.returncode == 1
    assert wrong.stdout.strip() == (
        "the app does not answer on web:7000 (PORT: set it in .env, for both services)"
    )
