"""The PostgreSQL option against a real PostgreSQL: each worker has its own connections and the
master none, replicas starting together migrate once, the app rides out the database going down
and coming back, and says so in one line when it starts without it."""

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers import (
    LABEL,
    MESSAGE,
    TEMPLATE_PROJECT,
    Container,
    children,
    docker,
    in_container,
    post_note,
    settled_workers,
    sockets,
    wait_for,
)

pytestmark = pytest.mark.docker

# The official image the bakes name, as .ci/stand-ins.sh builds it here.
POSTGRES = re.search(r"postgres:[\w.-]+", (TEMPLATE_PROJECT / "compose.dev.yaml").read_text())[0]


class Database:
    """A PostgreSQL server on a network of its own, as the official image runs."""

    def __init__(self):
        self.network = f"db-test-{uuid.uuid4().hex[:8]}"
        docker("network", "create", "--label", LABEL, self.network)
        self.name = f"{self.network}-postgres"
        docker("run", "-d", "--label", LABEL, "--name", self.name, "--network", self.network,
               "-e", "POSTGRES_USER=app", "-e", "POSTGRES_PASSWORD=test-only", "-e",
               "POSTGRES_DB=app", POSTGRES)  # fmt: skip
        self.wait_until_ready()

    def wait_until_ready(self):
        # pg_isready answers once the server takes TCP connections, not the init's socket-only run.
        ready = ["exec", self.name, "pg_isready", "-h", "127.0.0.1", "-U", "app", "-d", "app"]
        wait_for(lambda: docker(*ready, check=False).endswith("accepting connections"), 60,
                 "PostgreSQL")  # fmt: skip

    def sql(self, query: str) -> list[list[str]]:
        out = docker("exec", self.name, "psql", "-U", "app", "-d", "app", "-AtF", "\t", "-c", query)
        return [line.split("\t") for line in out.splitlines()]

    def web(self, image: str, *options: str) -> Container:
        return Container(image, 6000, "--network", self.network, "-e",
                         f"DATABASE_URL=postgresql://app:test-only@{self.name}/app", *options)  # fmt: skip

    def remove(self):
        docker("rm", "-f", "-v", self.name, check=False)
        docker("network", "rm", self.network, check=False)


@pytest.fixture
def database(docker_engine):
    made = Database()
    yield made
    made.remove()


@pytest.fixture(scope="module")
def db_image(image):
    tag, _ = image(database="postgres")
    return tag


def status(container: Container, path: str) -> int:
    try:
        return container.get(path)[0]
    except urllib.error.HTTPError as error:
        return error.code


def owners(port: int, pids: list[int]) -> set[int]:
    """The processes (host pids) holding the TCP socket whose local port is this one: read from
    their network namespace's table and their file descriptors."""
    table = Path(f"/proc/{pids[0]}/net/tcp").read_text().splitlines()[1:]
    inodes = {row.split()[9] for row in table if int(row.split()[1].split(":")[1], 16) == port}
    return {pid for pid in pids if sockets(pid) & {f"socket:[{inode}]" for inode in inodes}}


def test_each_worker_has_its_own_connections_and_the_master_none(database, db_image, capsys):
    """Under load, every backend of the app in pg_stat_activity is named for one worker, whose
    process alone holds the connection's socket; none is the master's."""
    with database.web(db_image, "-e", "WEB_CONCURRENCY=3") as web:
        web.wait_until_serving()
        master = web.master()
        workers = settled_workers(master, 3)
        names = {f"python_wsgi_app {in_container(pid)}": pid for pid in workers}
        stop, seen = threading.Event(), {}

        def load():
            while not stop.is_set():
                post_note(web.url("/notes"), "load")
                web.get("/notes")

        threads = [threading.Thread(target=load) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(20):
                query = "SELECT pid, application_name, client_port FROM pg_stat_activity"
                for backend, name, port in database.sql(f"{query} WHERE datname = 'app'"):
                    if name.startswith("python_wsgi_app"):
                        seen[backend] = (name, owners(int(port), [master, *workers]))
                time.sleep(0.1)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    rows = sorted((name, backend) for backend, (name, _) in seen.items())
    with capsys.disabled():
        print("\nbackend -> worker:", ", ".join(f"{b} -> pid {n.split()[1]}" for n, b in rows))
    assert seen and {name for name, _ in seen.values()} <= set(names)
    for name, holders in seen.values():
        assert holders == {names[name]}, (name, holders)  # that worker, and not the master
    assert len({name for name, _ in seen.values()}) == 3  # every worker has its own


def test_replicas_starting_together_migrate_once(database, db_image, capsys):
    """4 replicas started at once against an empty database: one migrates, the others wait for
    its lock and find the schema current; none fails, all serve."""
    replicas: list[Container] = []

    def start():
        replicas.append(database.web(db_image))

    starters = [threading.Thread(target=start) for _ in range(4)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    try:
        for replica in replicas:
            wait_for(lambda r=replica: status(r, "/readyz") == 200, 60, "ready")
            assert replica.state()["Running"]
        logs = [replica.logs() for replica in replicas]
        migrated = [log for log in logs if "Running upgrade  -> 0001" in log]
        with capsys.disabled():
            for n, log in enumerate(logs):
                lines = [line for line in log.splitlines() if "alembic" in line]
                print(f"\nreplica {n}: " + " | ".join(line.split(": ", 1)[1] for line in lines))
        assert len(migrated) == 1
        assert database.sql("SELECT version_num FROM alembic_version") == [["0001"]]
        assert all(post_note(replica.url("/notes"), "hello") == 201 for replica in replicas)
    finally:
        for replica in replicas:
            replica.__exit__()


def test_the_database_down_and_back(database, db_image, capsys):
    """Readiness 503 while the database is stopped, a 503 without a wait for what needs it, the
    rest served; back by itself when it returns, with the same workers."""
    with database.web(db_image) as web:
        wait_for(lambda: status(web, "/readyz") == 200, 60, "ready")
        workers = settled_workers(web.master(), 3)
        docker("stop", database.name)
        started = time.monotonic()
        assert status(web, "/readyz") == 503 and status(web, "/notes") == 503
        answered_in = time.monotonic() - started
        assert web.get("/") == (200, MESSAGE)
        docker("start", database.name)
        started = time.monotonic()
        wait_for(lambda: status(web, "/readyz") == 200, 60, "ready again")
        recovered_in = time.monotonic() - started
        assert status(web, "/notes") == 200
        assert children(web.master()) == workers  # no worker restarted
        with capsys.disabled():
            print(f"\ndatabase down: 503s within {answered_in:.2f} s; back: ready {recovered_in:.1f} s "
                  "after docker start")  # fmt: skip
        assert answered_in < 5


def test_started_without_the_database_it_serves_and_says_so_in_one_line(database, db_image):
    with database.web(db_image) as first:
        wait_for(lambda: status(first, "/readyz") == 200, 60, "migrated")
    docker("stop", database.name)
    with database.web(db_image, "-e", "DATABASE_WAIT=2") as web:
        assert web.wait_until_serving() == (200, MESSAGE)
        said = [line for line in web.logs().splitlines() if "database" in line]
        assert len(said) == 1 and "database unreachable" in said[0], said
        assert status(web, "/readyz") == 503
        docker("start", database.name)
        database.wait_until_ready()
        wait_for(lambda: status(web, "/readyz") == 200, 60, "ready once the database is back")


# What the app reads before it connects, each wrong in a way a deployment gets it wrong.
BAD_DATABASE_SETTINGS = {
    "no password file": (
        ["-e", "DATABASE_URL=postgresql://app@db/app", "-e", "DATABASE_PASSWORD_FILE=/run/secrets/none"],
        "error: DATABASE_PASSWORD_FILE='/run/secrets/none' is not allowed; expected a file this user can read (No such file or directory)",
    ),
    "no URL file": (
        ["-e", "DATABASE_URL_FILE=/run/secrets/none"],
        "error: DATABASE_URL_FILE='/run/secrets/none' is not allowed; expected a file this user can read (No such file or directory)",
    ),
    "an empty URL file": (
        ["-e", "DATABASE_URL_FILE=/dev/null"],
        "error: DATABASE_URL_FILE='/dev/null' is not allowed; expected a file that is not empty",
    ),
    "a port that is not a number": (
        ["-e", "DATABASE_URL=postgresql://app:secret@db:5432x/app"],
        "error: DATABASE_URL='postgresql:...' is not allowed; expected postgresql://USER@HOST:PORT/NAME",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    "options,message", BAD_DATABASE_SETTINGS.values(), ids=BAD_DATABASE_SETTINGS
)
def test_a_bad_database_setting_stops_the_server_in_one_line(db_image, options, message):
    """Read as the server starts, before it listens: one line, and no password in it."""
    with Container(db_image, 6000, *options) as container:
        assert container.wait_until_exited()["ExitCode"] != 0
        logs = container.logs()
        assert logs.strip().splitlines()[-1] == message and "Traceback" not in logs


def test_a_database_migrated_by_a_newer_image_is_served_not_ready(database, db_image):
    """An image rolled back after a newer one migrated: it serves what it can, says why in one
    line, and /readyz answers 503 (a crash loop would serve nothing)."""
    with database.web(db_image) as web:
        web.wait_until_serving(60)
    database.sql("UPDATE alembic_version SET version_num = 'f00d'")
    with database.web(db_image) as web:
        assert web.wait_until_serving(60) == (200, MESSAGE)
        assert status(web, "/readyz") == 503
        (line,) = [line for line in web.logs().splitlines() if "not migrated" in line]
        assert "Can't locate revision identified by 'f00d'" in line
        assert "Traceback" not in web.logs()


# Bodies POST /notes cannot store or parse: (the body, as sent).
BAD_BODIES = {
    "a NUL character": b'{"text": "a\\u0000b"}',
    "a lone surrogate": b'{"text": "a\\ud800b"}',
    "JSON nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "not JSON": b'{"text": ',
}


def test_bodies_the_database_or_the_parser_cannot_take_are_400s(database, db_image):
    with database.web(db_image) as web:
        web.wait_until_serving(60)
        for name, body in BAD_BODIES.items():
            request = urllib.request.Request(web.url("/notes"), data=body, method="POST",
                                             headers={"Content-Type": "application/json"})  # fmt: skip
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 400, name
            assert "error" in json.loads(refused.value.read()), name
        assert post_note(web.url("/notes"), "still fine") == 201
        assert "Traceback" not in web.logs()
