"""Metrics and request IDs in a container: Prometheus' counts exact across Gunicorn's workers, a
killed worker's requests kept and its in-flight gauge gone, nothing stale after a restart or a
recycled worker; one request ID from the client (or the app) to the response and the logs."""

import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from helpers import (
    MESSAGE,
    Container,
    children,
    docker,
    free_port,
    get,
    in_container,
    run,
    sockets,
    wait_for,
)

pytestmark = pytest.mark.docker

METRICS_PORT = 9464


class Metered(Container):
    """A container of the metrics bake, its metrics port published too."""

    def __init__(self, image: str, *options: str):
        self.metrics_port = free_port()
        super().__init__(
            image, 6000, "-p", f"127.0.0.1:{self.metrics_port}:{METRICS_PORT}", *options
        )

    def wait_until_serving(self, timeout: float = 30) -> tuple[int, str]:
        """The app, and the metrics' server, which the master starts once it listens."""
        answered = super().wait_until_serving(timeout)
        wait_for(self.scrape, timeout, "the metrics' server")
        return answered

    def scrape(self) -> dict[str, float]:
        """Every sample of /metrics on its own port: 'name{labels}' -> value."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        status, text = get(url)
        assert status == 200
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    def requests_total(self) -> float:
        return sum(v for k, v in self.scrape().items() if k.startswith("http_requests_total{"))

    def samples(self) -> list[str]:
        return self.exec("ls", "/dev/shm/prometheus").split()

    def samples_of(self, pid: int) -> list[str]:
        """The sample files a process (its pid in the container) wrote in the metrics folder."""
        return [name for name in self.samples() if name.endswith(f"_{pid}.db")]


@pytest.fixture(scope="module")
def metered(image):
    tag, _ = image(whoami=True, metrics="yes")
    return tag


def load(container: Container, count: int, threads: int = 6) -> int:
    """count GETs of / from several threads at once; the number answered 200."""
    answered = []

    def worker(share: int):
        for _ in range(share):
            answered.append(container.get("/") == (200, MESSAGE))

    pool = [threading.Thread(target=worker, args=(count // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(answered)


def in_a_request(worker: int, master: int) -> bool:
    """Whether a worker holds a connection of its own (a socket the master does not have)."""
    return bool(sockets(worker) - sockets(master))


def test_counts_are_exact_across_workers_and_a_killed_one(metered, capsys):
    with Metered(metered) as container:
        container.wait_until_serving()
        master = container.master()
        workers = container.settled_workers(3)
        inside = {pid: in_container(pid) for pid in workers}
        before = container.requests_total()  # the GETs of wait_until_serving
        answered = load(container, 300)
        # A worker killed in the middle of a request: that request is lost, with its share of
        # the in-flight gauge; what the worker answered before still counts.
        lost = []
        slow = threading.Thread(target=lambda: lost.append(fails(container, "/sleep/30.0")))
        slow.start()
        wait_for(lambda: container.scrape()["http_requests_in_progress"] == 1, what="in flight")
        # The one worker holding a connection, once the scrape's is closed.
        (dead,) = wait_for(
            lambda: (
                len(busy := [pid for pid in workers if in_a_request(pid, master)]) == 1 and busy
            ),
            what="the sleeping request's worker",
        )
        files = container.samples_of(inside[dead])
        os.kill(dead, signal.SIGKILL)
        slow.join()
        wait_for(lambda: len(children(master)) == 3 and dead not in children(master),
                 what="a new worker")  # fmt: skip
        answered += load(container, 300)
        scraped = container.scrape()
        counted = container.requests_total() - before
        left = container.samples_of(inside[dead])
        served = [pid for pid in workers if container.samples_of(inside[pid])]
    with capsys.disabled():
        print(f"\nexactness: {answered} answered, {counted:.0f} counted; worker {dead} killed "
              f"mid-request, its sample files {sorted(files)} then {sorted(left)}; in flight "
              f"after: {scraped['http_requests_in_progress']:.0f}")  # fmt: skip
    assert lost == [True]
    assert counted == answered == 600
    assert scraped["http_requests_in_progress"] == 0 and scraped["gunicorn_workers"] == 3
    # Its counts stay in the sums; its live gauge is gone with it.
    assert f"counter_{inside[dead]}.db" in left and f"gauge_livesum_{inside[dead]}.db" in files
    assert f"gauge_livesum_{inside[dead]}.db" not in left
    assert len(served) == 3  # every worker answered some


def fails(container: Container, path: str) -> bool:
    try:
        container.get(path, timeout=60)
    except (urllib.error.URLError, OSError, ConnectionError):
        return True
    return False


def test_a_restart_starts_the_counts_from_zero(metered):
    with Metered(metered) as container:
        container.wait_until_serving()
        load(container, 60)
        assert container.requests_total() >= 60
        docker("restart", container.id)
        container.wait_until_serving()
        assert container.requests_total() == 1  # the first GET after the restart


def test_recycled_workers_leave_no_live_series(metered):
    """max_requests replaces each worker after a few requests: the sums stay exact, and no
    live gauge of a worker that is gone remains."""
    with Metered(metered, "-e", "GUNICORN_CMD_ARGS=--max-requests 10") as container:
        container.wait_until_serving()
        before = container.requests_total()
        answered = load(container, 120)
        master = container.master()
        wait_for(lambda: len(children(master)) == 3, what="3 workers")
        live = {
            int(re.search(r"_(\d+)\.db$", name)[1])
            for name in container.samples()
            if name.startswith("gauge_livesum")
        }
        assert container.requests_total() - before == answered == 120
        assert container.scrape()["http_requests_in_progress"] == 0
        # The master's own (it made the gauge at import) and the live workers', no other.
        assert live <= {1, *map(in_container, children(master))}


def test_a_silent_client_never_holds_up_a_scrape(metered):
    """A connection that sends nothing, to the metrics' port: others still scrape."""
    with Metered(metered) as container:
        container.wait_until_serving()
        with socket.create_connection(("127.0.0.1", container.metrics_port)):
            started = time.monotonic()
            assert "gunicorn_workers" in container.scrape()
            assert time.monotonic() - started < 5


def test_the_metrics_server_comes_back_when_killed(metered):
    with Metered(metered) as container:
        container.wait_until_serving()
        found = run("pgrep", "-P", str(container.master()), "-f", "serving.metrics")
        os.kill(int(found.stdout), signal.SIGKILL)
        container.wait_for_log("The metrics' server ended")
        assert "gunicorn_workers" in wait_for(container.scrape, 30, "the metrics' server again")
