"""Benchmark: the template's bakes against the seed project, served, measured and rebuilt.

    .venv/bin/python bench/run.py                          # 5 rounds x 3 s per load
    .venv/bin/python bench/run.py --rounds 1 --duration 2  # a quick look

Builds every image from the same base images, then loads the variants in rounds that alternate
them (A, B, C, A, B, C, ...), each shape of load on a fresh container or stack; the tables show
medians of rounds. Prints the tables and writes bench/results/. See bench/README.md.
"""

import argparse
import contextlib
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

import measure
import report

import helpers
from helpers import (
    TEMPLATE,
    TEMPLATE_PROJECT,
    Container,
    build,
    cookiecutter,
    docker,
    remove_labelled,
    run,
    static_in,
)

RUN_ID = uuid.uuid4().hex[:8]
PREFIX = f"bench-{RUN_ID}"  # names of our images, containers, network and Compose projects
NETWORK = PREFIX
PORT = 6000  # where the seed and the default bake listen
# The images the seed and the bakes are built from or run with, at the tags the template pins;
# they must be present.
COMPOSE = next(TEMPLATE_PROJECT.glob("*compose.yaml*")).read_text()
DOCKERFILE = (TEMPLATE_PROJECT / "Dockerfile").read_text()
BASES = [
    "python:3.11",
    "python:3.11-slim",
    re.search(r"caddy:[\w.-]+", DOCKERFILE)[0],
    re.search(r"postgres:[\w.-]+", COMPOSE)[0],
    re.search(r"ghcr\.io/astral-sh/uv:[\d.]+", DOCKERFILE)[0],
    "pebble:test",  # the ACME server of the HTTPS edge's certificate (tests/test_https.py)
]
GTHREAD = {"worker_class": "gthread", "threads": "4"}
DATABASE = {"database": "postgres"}
POSTGRES = f"{PREFIX}-postgres"  # one server for the database variants
DOMAIN = "bench.example.test"  # the HTTPS edge's, pebble's certificate
# A POST of a note, for wrk.
WRITE = 'wrk.method = "POST"\nwrk.body = \'{"text": "bench"}\'\nwrk.headers["Content-Type"] = "application/json"\n'
PATHS = ["published", "loopback"]  # through docker-proxy; inside the container's namespace
# The static variant's file: 10 kB of stylesheet (10,023 bytes), in its bake's static folder.
ASSET = "bench.css"
ASSET_TEXT = "".join(f".b{n:03d} {{ margin: {n % 7}px; color: #{n:06x}; }}\n" for n in range(257))


@dataclass
class Variant:
    """A bake with these answers (or the seed), run with this environment, alone or behind Caddy
    as compose.yaml runs it. Every variant has 3 workers: the seed's and the template's default."""

    name: str
    answers: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    seed: bool = False
    edge: bool = False  # behind Caddy, as compose.yaml runs it
    https: bool = False  # with compose.https.yaml, a certificate from pebble
    path: str = "/"
    script: str = ""  # a wrk script: the request, if not GET path
    asset: bool = False  # the bake's static folder holds ASSET (path: its digest name)
    context: Path | None = None  # the project folder, and its images, once built
    image: str = ""
    edge_image: str = ""  # the Dockerfile's edge stage: Caddy with the static files


VARIANTS = [
    Variant("seed", seed=True),
    Variant("default"),
    Variant("gthread", answers=GTHREAD),
    Variant("access log on", env={"ACCESS_LOG": "on"}),
    Variant("json, access log on", env={"LOG_FORMAT": "json", "ACCESS_LOG": "on"}),
    Variant("metrics", answers={"metrics": "yes"}),
    Variant("postgres, read", answers=DATABASE, path="/notes"),
    Variant("postgres, write", answers=DATABASE, path="/notes", script=WRITE),
    Variant("caddy + default", edge=True),
    Variant("caddy + gthread", answers=GTHREAD, edge=True),
    Variant("caddy https + default", edge=True, https=True),
    Variant("caddy static", edge=True, asset=True),
]


def build_images(tmp: Path) -> dict:
    """Bake (or copy the seed) and build each distinct project once; the first variant using it
    names its image."""
    images: dict = {}
    for variant in VARIANTS:
        key = json.dumps([variant.answers, variant.asset], sort_keys=True)
        key = "seed" if variant.seed else key
        if key not in images:
            slug = re.sub(r"\W+", "-", variant.name)
            if variant.seed:
                context = shutil.copytree(BENCH / "seed", tmp / "seed")
            else:
                answers = [f"{name}={value}" for name, value in variant.answers.items()]
                out = tmp / slug
                command = [str(TEMPLATE), "--no-input", "--output-dir", str(out), *answers]
                baked = cookiecutter(*command, cwd=tmp, home=tmp / "home")
                assert baked.returncode == 0, baked.stderr
                (context,) = out.iterdir()
                if variant.asset:
                    (context / context.name / "static" / ASSET).write_text(ASSET_TEXT)
            tag = f"{PREFIX}-{slug}"
            print(f"build {tag}")
            build(context, tag)
            images[key] = {"context": context, "image": tag, "variant": variant.name}
        variant.context, variant.image = images[key]["context"], images[key]["image"]
        if variant.edge:
            variant.edge_image = f"{variant.image}-edge"
            build(variant.context, variant.edge_image, "--target", "edge")
        if variant.asset:
            where = ["run", "--rm", "--label", helpers.LABEL, variant.image]
            variant.path = static_in(where, variant.context.name, [ASSET])[0][ASSET]
    return {image.pop("variant"): image | describe(image["image"]) for image in images.values()}


def describe(image: str) -> dict:
    """Size, and the Flask and Gunicorn the image serves with (the seed's Gunicorn is unpinned)."""
    python = ["--entrypoint", "/opt/venv/bin/python", image, "-c"]
    code = "from importlib.metadata import version as v; "
    code += "print('flask', v('flask') + ', gunicorn', v('gunicorn'))"
    return {
        "bytes": int(docker("image", "inspect", "--format", "{{.Size}}", image)),
        "flask_gunicorn": docker("run", "--rm", "--label", helpers.LABEL, *python, code),
    }


def network(tmp: Path):
    """Our network, with PostgreSQL and pebble on it, and addresses on it never used before in
    this run. Closed connections to an
    address stay in TIME_WAIT for 60 s (docker-proxy's on the host, Caddy's in its namespace),
    and Docker gives a new container the address the last one freed."""
    docker("network", "create", "--label", helpers.LABEL, NETWORK)
    # `docker run --ip` needs a subnet given at creation: take the one Docker picked.
    subnet = docker("network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", NETWORK)
    docker("network", "rm", NETWORK)
    docker("network", "create", "--label", helpers.LABEL, "--subnet", subnet, NETWORK)
    # An idle container keeps it in use between loads: others' clean-ups remove unused networks.
    idle = ["--network", NETWORK, "--entrypoint", "sleep", BASES[1], "infinity"]
    docker("run", "--detach", "--label", helpers.LABEL, "--name", f"{PREFIX}-anchor", *idle)
    # The database variants' server, and the HTTPS edge's ACME server: HTTP-01 to the edge's own
    # port, 8080.
    postgres = ["--network", NETWORK, "--name", POSTGRES, "-e", "POSTGRES_PASSWORD=bench"]
    docker("run", "--detach", "--label", helpers.LABEL, *postgres, BASES[3])
    config = json.loads(docker("run", "--rm", "--entrypoint", "cat", "pebble:test",
                               "/test/config/pebble-config.json"))  # fmt: skip
    config["pebble"]["httpPort"] = 8080
    (tmp / "pebble.json").write_text(json.dumps(config))
    pebble = ["--network", NETWORK, "--name", f"{PREFIX}-pebble", "--network-alias", "pebble"]
    pebble += ["-v", f"{tmp / 'pebble.json'}:/test/config/bench.json:ro", "pebble:test"]
    docker("run", "--detach", "--label", helpers.LABEL, *pebble, "pebble", "-config",
           "/test/config/bench.json", "-dnsserver", "127.0.0.11:53")  # fmt: skip
    listener = docker("run", "--rm", "--entrypoint", "cat", "pebble:test",
                      "/test/certs/pebble.minica.pem")  # fmt: skip
    (tmp / "pebble-listener.pem").write_text(listener + "\n")
    # The first ten are left to Docker: the gateway, and the stacks' Gunicorn containers.
    return (str(ip) for ip in itertools.islice(ipaddress.ip_network(subnet).hosts(), 10, None))


@contextlib.contextmanager
def started(variant: Variant, ip: str, tmp: Path):
    """A fresh container, or Compose stack, with its front at ip. Yields (the published URL,
    its containers, the pid whose network namespace serves, the port inside it)."""
    name = f"{PREFIX}-{ip.replace('.', '-')}"
    environment = {**variant.env}
    if variant.answers.get("database"):
        environment["DATABASE_URL"] = f"postgresql://postgres:bench@{POSTGRES}/postgres"
    if not variant.edge:
        options = ["--name", name, "--network", NETWORK, "--ip", ip]
        options += [f"--env={key}={value}" for key, value in environment.items()]
        with Container(variant.image, PORT, *options) as container:
            yield container.url(variant.path), [container.id], container.master(), PORT
        return
    # The bake's compose.yaml as `docker compose up` runs it, with our image, one replica (3
    # workers, as everywhere), our network and label, and the edge at ip; for HTTPS with
    # compose.https.yaml, the domain's certificate from pebble.
    project = name
    override = tmp / f"{project}.json"  # JSON is YAML
    labels = dict([helpers.LABEL.split("=")])
    web = {"image": variant.image, "deploy": {"replicas": 1}, "labels": labels}
    edge = {"image": variant.edge_image, "labels": labels,
            "networks": {"web": {"ipv4_address": ip, "aliases": [DOMAIN]}}}  # fmt: skip
    environ = {**os.environ, "PUBLISH_PORT": str(helpers.free_port())}
    files = ["-f", "compose.yaml"]
    if variant.https:
        files += ["-f", "compose.https.yaml"]
        edge["environment"] = {"ACME_CA": "https://pebble:14000/dir",
                               "ACME_CA_ROOT": "/etc/caddy/pebble-listener.pem"}  # fmt: skip
        edge["volumes"] = [f"{tmp / 'pebble-listener.pem'}:/etc/caddy/pebble-listener.pem:ro"]
        environ |= {"DOMAIN": DOMAIN, "HTTP_PORT": str(helpers.free_port()),
                    "HTTPS_PORT": str(helpers.free_port())}  # fmt: skip
    networks = {"web": {"name": NETWORK, "external": True}}
    override.write_text(json.dumps({"services": {"web": web, "edge": edge}, "networks": networks}))
    compose = ["docker", "compose", "-p", project, *files, "-f", str(override)]
    try:
        up = ["up", "--detach", "--no-build", "--pull", "never"]
        run(*compose, *up, cwd=variant.context, env=environ)
        containers = [f"{project}-edge-1", f"{project}-web-1"]
        pid = measure.pid(containers[0])
        if variant.https:
            yield f"https://127.0.0.1:{environ['HTTPS_PORT']}{variant.path}", containers, pid, 443
        else:
            yield f"http://127.0.0.1:{environ['PUBLISH_PORT']}{variant.path}", containers, pid, 8080
    finally:
        run(*compose, "down", "--volumes", cwd=variant.context, env=environ, check=False)


def serve_both(variant: Variant, close: bool, ip: str, tmp: Path, seconds: int) -> dict:
    """On a fresh container or stack: the first 200, a second of warm-up, a load through the
    published port, one on loopback; then TIME_WAIT sockets and memory."""
    sample = {} if variant.edge else {"floor_s": measure.container_floor(variant.image)}
    begun = time.monotonic()
    with started(variant, ip, tmp) as (url, containers, pid, port):
        # The HTTPS edge's first response waits for its certificate: no cold start to compare.
        # HTTPS by the domain's name, as its clients reach it.
        host = DOMAIN if variant.https else ""
        ready = measure.cold_start(url.replace(variant.path, "/", 1), begun, host=host)
        if not variant.https:
            sample["cold_start_s"] = ready
        requests = measure.wrk(url, 1, close, script=variant.script, host=host)["requests"]
        scheme = "https" if variant.https else "http"
        loopback = (f"{scheme}://127.0.0.1:{port}{variant.path}", pid)
        # Behind the edge: the CPU time Gunicorn's processes spend during each load.
        master = measure.pid(containers[1]) if variant.edge else None
        for path, (target, netns) in zip(PATHS, [(url, None), loopback], strict=True):
            busy = measure.cpu_seconds(master) if master else 0
            sample[path] = measure.wrk(target, seconds, close, netns, variant.script, host)
            if master:
                sample[path]["app_cpu_s"] = measure.cpu_seconds(master) - busy
            requests += sample[path]["requests"]
        sample["requests"] = requests  # warm-up included, as in the TIME_WAIT counts
        if any(sample[path]["errors"] + sample[path]["non_2xx"] for path in PATHS):
            # What went wrong, in Caddy's log and Gunicorn's (stdout, or stderr).
            logs = [run("docker", "logs", "--tail", "15", name) for name in containers]
            sample["logs"] = [
                line for log in logs for line in (log.stderr + log.stdout).splitlines()
            ]
        sample["time_wait_host"] = measure.time_wait(f"dst {ip}")  # docker-proxy's
        if variant.edge:  # Caddy's connections to Gunicorn
            sample["time_wait_upstream"] = measure.time_wait(f"dport = :{PORT}", pid)
        else:
            sample["memory"] = measure.memory(pid)
    return sample


def serve(tmp: Path, rounds: int, seconds: int) -> list[dict]:
    ips = network(tmp)
    samples = []
    for number, close, variant in itertools.product(range(1, rounds + 1), (False, True), VARIANTS):
        shape = "close" if close else "keep-alive"
        sample = {"variant": variant.name, "round": number, "shape": shape}
        try:
            sample |= serve_both(variant, close, next(ips), tmp, seconds)
            shown = "  ".join(
                f"{path} {sample[path]['rps']:6,.0f} req/s p99 {sample[path]['p99_ms']:5.1f} ms"
                for path in PATHS
            )
        except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as error:
            sample["error"] = shown = str(error).strip().splitlines()[0][:200]
        samples.append(sample)
        print(f"round {number}/{rounds}  {shape:10}  {variant.name:20} {shown}")
    return samples


def rebuilds(rounds: int) -> list[dict]:
    """Rebuild the default bake and the seed after appending a comment with a fresh random value
    (so no cache can serve it) to requirements.txt, then to the app's code."""
    subjects = {v.name: v for v in VARIANTS if v.name in ("default", "seed")}
    code = {"seed": "app.py", "default": f"{subjects['default'].context.name}/views.py"}

    def rebuild(name: str, changed: str) -> tuple[float, bool]:
        with (subjects[name].context / changed).open("a") as file:
            file.write(f"\n# bench {uuid.uuid4().hex}\n")
        return measure.timed_build(subjects[name].context, f"{PREFIX}-rebuild-{name}")

    # Untimed: fills the BuildKit cache mount that uv installs from, as any earlier build would.
    for name in subjects:
        rebuild(name, "requirements.txt")
    samples = []
    for number, name in itertools.product(range(1, rounds + 1), subjects):
        for kind, changed in (("requirements", "requirements.txt"), ("code", code[name])):
            seconds, cached = rebuild(name, changed)
            sample = {"subject": name, "change": kind, "round": number, "seconds": seconds}
            samples.append(sample | {"dependencies_cached": cached})
            layer = "cached" if cached else "rebuilt"
            print(f"rebuild {number}/{rounds}  {name:8} {kind:12} {seconds:5.2f} s, deps {layer}")
    return samples


def preflight() -> None:
    if os.geteuid():
        raise SystemExit("bench/run.py runs as root: nsenter, and the containers' /proc")
    if missing := [tool for tool in ("docker", "wrk", "ss", "nsenter") if not shutil.which(tool)]:
        raise SystemExit(f"bench/run.py needs {', '.join(missing)}")
    if problem := helpers.engine_problem():
        raise SystemExit(problem)
    if run("docker", "compose", "version", check=False).returncode:
        raise SystemExit("bench/run.py runs the stack with Docker Compose v2: it is missing")
    if run("docker", "image", "inspect", *BASES, check=False).returncode:
        raise SystemExit(f"bench/run.py builds and runs from {', '.join(BASES)}: one is missing")


def meta() -> dict:
    def git(*args: str) -> str:
        return run("git", "-C", str(TEMPLATE), *args, check=False).stdout.strip()

    versions = "client {{.Client.Version}}, engine {{.Server.Version}}"
    return {
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git("rev-parse", "--short", "HEAD") + (" + changes" * bool(git("status", "-s"))),
        "cores": os.cpu_count(),
        "docker": docker("version", "--format", versions),
        "loadavg": [Path("/proc/loadavg").read_text().split()[0]],
        "base_bytes": int(docker("image", "inspect", "--format", "{{.Size}}", "python:3.11-slim")),
        "port_limit": measure.PORT_LIMIT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all variants (5)")
    # Short: a container takes two loads, and every connection a sync worker serves may stay in
    # TIME_WAIT (see network()).
    parser.add_argument("--duration", type=int, default=3, help="seconds per load (3)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also in a log
    preflight()
    # docker stop or kill: unwind through the finally blocks, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    begun = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    results = {"meta": meta(), "settings": vars(args)}
    try:
        results["images"] = build_images(tmp)
        results["rebuilds"] = rebuilds(args.rounds)
        results["samples"] = serve(tmp, args.rounds, args.duration)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # let the clean-up finish
            signal.signal(signum, signal.SIG_IGN)
        print("removing what this run created")
        remove_labelled()
        docker("network", "rm", NETWORK, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["loadavg"].append(Path("/proc/loadavg").read_text().split()[0])
    results["meta"]["minutes"] = (time.monotonic() - begun) / 60
    text = report.markdown(results)
    print("\n" + text)
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "results.md").write_text(text + "\n")
    (BENCH / "results" / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote bench/results/; total run time {results['meta']['minutes']:.1f} min")


if __name__ == "__main__":
    main()
