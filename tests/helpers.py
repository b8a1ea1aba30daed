"""What the template's tests and benchmark share: answers and bakes, commands, README blocks,
waiting on events, the development container, slow clients, Gunicorn's processes, Docker images
and containers."""

import base64
import contextlib
import gzip
import http.client
import itertools
import json
import os
import re
import runpy
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import brotli
from markdown_it import MarkdownIt

try:
    from compression import zstd  # Python 3.14 on
except ImportError:
    from backports import zstd

TEMPLATE = Path(__file__).resolve().parent.parent
# The folder cookiecutter renders into a project, and the app's package in it.
TEMPLATE_PROJECT = TEMPLATE / "{{cookiecutter.project_slug|checked}}"
PACKAGE = TEMPLATE_PROJECT / TEMPLATE_PROJECT.name
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text("utf-8"))
MESSAGE = "Hello from Docker! 🐳"
# The Pythons with base images on this machine (.ci/stand-ins.sh); 3.12 has no Debian build.
BUILDABLE_PYTHONS = ["3.11", "3.13", "3.14", "3.15"]


# Answers and bakes ------------------------------------------------------------------------


def choices(name: str) -> list:
    return CONTEXT[name]


def ids(answers: dict) -> str:
    """A test id naming each answer: `port:8080,workers:auto`."""
    return ",".join(f"{key}:{value}" for key, value in answers.items()) or "defaults"


def combinations(*axes: list[dict]) -> list[dict]:
    """Every combination of the axes' values, each merged into one answers dict."""
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)]


def bake(cookies, **answers: str) -> Path:
    """Bake with these answers (text, as a user types them); fail the test on any error."""
    result = cookies.bake(extra_context=answers)
    assert result.exception is None, result.exception
    return result.project_path


def cookiecutter(*arguments: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    """The cookiecutter command as a user runs it, with its config (replays, clones) in home."""
    config = home / "cookiecutter.yaml"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"cookiecutters_dir: {home / 'clones'}\nreplay_dir: {home / 'replay'}\n", "utf-8"
        )
    environ = {**os.environ, "COOKIECUTTER_CONFIG": str(config)}
    return run(tool("cookiecutter"), *arguments, cwd=cwd, env=environ, check=False)


def gunicorn_settings(project: Path, **environ: str) -> dict:
    """Gunicorn's settings as the project's config file computes them, with this environment,
    importing the project's own serving/ as Gunicorn does from the project's folder."""
    saved = dict(os.environ)
    os.environ.update(environ)
    sys.path.insert(0, str(project))
    try:
        return runpy.run_path(str(project / "gunicorn.conf.py"))
    finally:
        sys.path.remove(str(project))
        for name in [name for name in sys.modules if name.split(".")[0] == "serving"]:
            del sys.modules[name]  # another bake's serving/ is another module
        os.environ.clear()
        os.environ.update(saved)


def dockerfile_stages(project: Path) -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's stages in order, by name ("" for one without): each one's instructions
    as (keyword, arguments), continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", "", (project / "Dockerfile").read_text())
    found: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, arguments = line.split(None, 1)
            if keyword == "FROM":
                steps = found.setdefault(arguments.partition(" AS ")[2], [])
            steps.append((keyword, arguments))
    return found


def dockerfile_cmd(project: Path, stage: str = "runtime") -> list[str]:
    """The exec-form CMD of a stage of the project's Dockerfile, as Docker runs it."""
    (command,) = [args for keyword, args in dockerfile_stages(project)[stage] if keyword == "CMD"]
    return json.loads(command)


WHOAMI = '''"""Routes the template's tests add to a bake: who the app believes is asking, a
request that takes its time, a page with headers of its own."""

import time

from flask import Blueprint, current_app, request, url_for

bp = Blueprint("whoami", __name__)


@bp.get("/whoami")
def whoami():
    current_app.logger.info("whoami from %s", request.remote_addr)
    return {
        "remote_addr": request.remote_addr,
        "scheme": request.scheme,
        "url": url_for("whoami.whoami", _external=True),
        "request_id": request.headers.get("X-Request-ID"),
    }


@bp.get("/sleep/<float:seconds>")
def sleep(seconds):
    time.sleep(seconds)
    return "slept"


@bp.get("/framed")
def framed():
    """A page that sets its own framing and referrer policies."""
    return "framed", {"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"}
'''


def add_whoami(project: Path) -> None:
    """Add a subpackage with a route of its own to a bake, as a user adds code."""
    package = project / project.name
    (package / "whoami").mkdir()
    (package / "whoami" / "__init__.py").write_text(WHOAMI)
    factory = package / "__init__.py"
    register = "    app.register_blueprint(views.bp)\n"
    assert register in factory.read_text()
    factory.write_text(factory.read_text().replace(
        register, f"{register}    from .whoami import bp as whoami\n\n    app.register_blueprint(whoami)\n"
    ))  # fmt: skip


# Commands ---------------------------------------------------------------------------------


def tool(name: str) -> str:
    """A command installed beside this Python (the test venv need not be activated)."""
    path = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert path, f"{name} is not installed: pip install -r requirements-dev.txt"
    return path


def run(
    *command: str, cwd: Path | None = None, env: dict | None = None, check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess:  # fmt: skip
    """Run a command, capturing its text output; with check, fail showing that output."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
    return result


def shell(line: str, cwd: Path, check: bool = True, timeout: float = 600, **environ: str) -> str:
    """A command line from a README, run by bash as a user would; returns its stdout."""
    env = {**os.environ, **environ}
    return run("bash", "-euo", "pipefail", "-c", line, cwd=cwd, env=env, check=check,
               timeout=timeout).stdout  # fmt: skip


def without_escapes(text: str) -> str:
    """Text as read, without the terminal escapes Compose writes even to a pipe."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def commit_all(folder: Path, message: str) -> None:
    """Make folder a git repository (if it is not one) and commit everything in it."""
    if not (folder / ".git").exists():
        run("git", "init", "-q", "-b", "main", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid"]
    run("git", *identity, "commit", "-qm", message, cwd=folder)


def clone(repository: Path, into: Path) -> Path:
    """A fresh clone, named as a user's clone of the repository would be."""
    into.mkdir(parents=True, exist_ok=True)
    run("git", "clone", "-q", str(repository), str(into / repository.name))
    return into / repository.name


def locked(project: Path) -> dict[str, tuple[str, list[str]]]:
    """What requirements.txt locks: name -> (version, hashes)."""
    lock = (project / "requirements.txt").read_text()
    entries = re.findall(
        r"^([\w.-]+)==(\S+)((?: \\\n    --hash=sha256:[0-9a-f]{64})+)", lock, re.MULTILINE
    )
    return {
        name.lower(): (version, re.findall(r"[0-9a-f]{64}", hashes))
        for name, version, hashes in entries
    }


# README blocks ----------------------------------------------------------------------------


def _tokens(readme: Path) -> list:
    return MarkdownIt("commonmark").parse(readme.read_text("utf-8"))


def outline(readme: Path) -> tuple[list[str], list[str]]:
    """(the headings, the info strings of the fenced code blocks), in order."""
    tokens = _tokens(readme)
    headings = [
        f"{token.tag} {tokens[i + 1].content}"
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    return headings, [token.info for token in tokens if token.type == "fence"]


def commands(readme: Path, heading: str, block: int = 0) -> list[str]:
    """The command lines of a bash block under a heading, the first unless told (comments and
    blanks left out)."""
    tokens = _tokens(readme)
    starts = [
        i
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and tokens[i + 1].content == heading
    ]
    assert starts, f"{readme} has no heading {heading!r}"
    blocks = []
    for token in tokens[starts[0] + 2 :]:
        if token.type == "heading_open":
            break
        if token.type == "fence" and token.info == "bash":
            lines = token.content.splitlines()
            blocks.append([line for line in lines if line.strip() and not line.startswith("#")])
    assert len(blocks) > block, f"no bash block {block} under {heading!r} in {readme}"
    return blocks[block]


def post_note(url: str, text: str) -> int:
    """The status of a POST of a note (the database option's example resource) to url."""
    request = urllib.request.Request(
        url, data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


# Waiting on events ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EDGE = "localhost:8000"  # where compose.yaml publishes the edge unless PUBLISH_PORT says


def at_edge(command: str, port: int) -> str:
    """A docs command that asks the stack's edge, sent to the port a test published it on."""
    assert EDGE in command, command
    return command.replace(EDGE, f"localhost:{port}")


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """The first truthy value of condition(), polled while it fails or is falsy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except (OSError, AssertionError, ValueError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    """(status, body) of a GET, without any proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.status, response.read().decode()


# The development container --------------------------------------------------------------


class DevContainer:
    """The README's `docker compose -f compose.dev.yaml up --build --watch`, running."""

    def __init__(self, project: Path, port: int, log: Path):
        self.project, self.port, self.log = project, port, log
        self.compose = "docker compose -f compose.dev.yaml"

    def get(self, path: str = "/") -> tuple[int, str]:
        return get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def serves(self, path: str, body: str, timeout: float = 30) -> float:
        """Seconds until path answers body."""
        started = time.monotonic()
        wait_for(lambda: self.get(path) == (200, body), timeout, f"{path} to answer {body!r}")
        return time.monotonic() - started

    def container(self) -> dict:
        """The running container, as docker inspect shows it: waited for, since a rebuild
        (Compose watch, after a lock refresh) replaces it."""

        def running() -> dict | None:
            ids = shell(f"{self.compose} ps -q --status running web", self.project).split()
            found = run("docker", "inspect", *ids, check=False) if len(ids) == 1 else None
            return json.loads(found.stdout)[0] if found and found.returncode == 0 else None

        return wait_for(running, 120, "the development container")

    @contextlib.contextmanager
    def loading_slowly(self, seconds: float = 1.5):
        """The app taking this long to load, as one importing heavy libraries first would: a
        save while it loads is the case Flask's reloader alone misses."""
        init = self.project / self.project.name / "__init__.py"
        original = init.read_text()
        slow = f"import os\nimport time\n\ntime.sleep({seconds})  # heavy imports\n"
        init.write_text(original.replace("import os\n", slow, 1))
        try:
            yield
        finally:
            init.write_text(original)

    def recovers(self, error: str, delay: float) -> float:
        """Seconds from the fix saved, delay seconds after an error (ERRORS), to the fixed app
        answering."""
        name, found, broken = ERRORS[error]
        path = self.project / self.project.name / name
        original = path.read_text()
        assert found in original
        path.write_text(original.replace(found, broken))
        time.sleep(delay)  # the user's pause, not a wait for anything
        path.write_text(original)
        return self.serves("/", MESSAGE, timeout=60)


@contextlib.contextmanager
def developing(project: Path, log: Path):
    """The README's development command running in project, with a port of its own
    (DEV_PORT); stopped as the README says (Ctrl-C, then down), its images removed."""
    port = free_port()
    up = commands(project / "README.md", "In a container")[0]
    environ = {**os.environ, "DEV_PORT": str(port)}
    with log.open("w") as output:
        server = subprocess.Popen(["bash", "-c", up], cwd=project, env=environ, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    loop = DevContainer(project, port, log)
    try:
        loop.serves("/", MESSAGE, timeout=600)
        yield loop
    finally:
        name = json.loads(shell(f"{loop.compose} config --format json", project))["name"]
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        # Compose finishes a rebuild it has started (a lock refresh can start two) before it
        # stops: on a busy machine that takes minutes.
        server.wait(timeout=600)
        shell(f"{loop.compose} down", project, check=False)
        label = f"com.docker.compose.project={name}"
        images = docker("images", "-aq", "--filter", f"label={label}").split()
        if images:
            docker("rmi", "-f", *set(images), check=False)


# Errors a save can bring, each in the file where it is made: (file, text as found, broken).
ERRORS = {
    "syntax": ("views.py", "@bp.get(\"/\")\n", "@bp.get(\"/\"\n"),
    "import": ("views.py", "from flask import Blueprint\n", "from flask import Blueprint, Nothing\n"),
    "create_app": ("__init__.py", "    app = Flask(__name__)\n",
                   "    app = Flask(__name__)\n    raise RuntimeError('broken')\n"),
}  # fmt: skip


@contextlib.contextmanager
def busy_cores():
    """Every core of this machine kept busy by a process of its own, as other work would."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in os.sched_getaffinity(0)]  # fmt: skip
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


# Load ---------------------------------------------------------------------------------------

SLOW_CLIENTS, SECONDS = 50, 60


def connect(port: int, tls: ssl.SSLContext | None, host: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return tls.wrap_socket(sock, server_hostname=host) if tls else sock


def under_slow_clients(port: int, tls: ssl.SSLContext | None = None, host: str = "localhost",
                       kinds: tuple[str, ...] = ("headers", "body"),
                       seconds: float = SECONDS) -> tuple[int, int]:  # fmt: skip
    """(answered within 1 s, asked) for GET / asked in a loop while, for each kind, 50 clients
    trickle their requests: their headers a line every 5 s ("headers"), or a POST body of 1000
    bytes one byte a second ("body"); each reconnects when the server gives up on it."""
    deadline = time.monotonic() + seconds
    starts = {
        "headers": f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode(),
        "body": f"POST /notes HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode(),
    }

    def slowly(kind: str):
        trickle, pause = (b"X-Trickle: 1\r\n", 5) if kind == "headers" else (b" ", 1)
        while time.monotonic() < deadline:
            try:
                with connect(port, tls, host) as sock:
                    sock.sendall(starts[kind])
                    while time.monotonic() < deadline:
                        time.sleep(pause)
                        sock.sendall(trickle)
            except OSError:
                time.sleep(0.5)  # dropped by the server: come back, as an attacker would

    threads = [threading.Thread(target=slowly, args=(kind,), daemon=True)
               for kind in kinds for _ in range(SLOW_CLIENTS)]  # fmt: skip
    for thread in threads:
        thread.start()
    answered = asked = 0
    while time.monotonic() < deadline:
        asked += 1
        started = time.monotonic()
        try:
            with connect(port, tls, host) as sock:
                sock.settimeout(1)
                sock.sendall(
                    f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                )
                response = b"".join(iter(lambda s=sock: s.recv(65536), b""))
            ok = response.startswith(b"HTTP/1.1 200") and response.endswith(MESSAGE.encode())
            answered += ok and time.monotonic() - started <= 1
        except OSError:
            pass
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    return answered, asked


# Gunicorn's processes, read from /proc (host pids; a container's are visible too) ---------


def children(pid: int) -> list[int]:
    """Gunicorn's workers: the master's children that run its command (forked from it), not
    another process it started (the metrics' server)."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            same = (stat.parent / "cmdline").read_bytes() == command
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == pid and same:
            found.append(int(stat.parent.name))
    return sorted(found)


def sockets(pid: int) -> set[str]:
    """The sockets a process holds open ("socket:[inode]"), skipping any closed while read."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:"):
            found.add(link)
    return found


def in_container(pid: int) -> int:
    """A process's pid as its container sees it (host pids are what /proc here lists)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^NSpid:.*\s(\d+)$", status, re.MULTILINE)[1])


def worker_booted(pid: int) -> bool:
    """A forked worker keeps the master's signal handlers until its init installs its own; the
    master alone catches SIGCHLD. Gunicorn loses a SIGTERM that lands before that moment."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE)[1], 16)
    return not caught & (1 << (signal.SIGCHLD - 1))


def settled_workers(master: int, count: int) -> list[int]:
    """The workers, once `count` have booted and the master has stopped forking: it then waits
    on its signal queue (a futex), not in the pause between two forks. Fails on any other count."""

    def settled():
        workers = children(master)
        waiting = "futex" in Path(f"/proc/{master}/wchan").read_text()
        return workers if waiting and all(map(worker_booted, workers)) else None

    workers = wait_for(settled, what=f"Gunicorn master {master} to settle")
    assert len(workers) == count, f"{len(workers)} workers, expected {count}"
    return workers


# Docker -------------------------------------------------------------------------------------

# Everything this process creates (a test run, a benchmark) carries this label, so that a crashed
# run can still be cleaned up, and runs side by side on one engine never touch each other's.
LABEL = f"template-run={uuid.uuid4().hex[:12]}"


def docker(*args: str, check: bool = True, timeout: float = 600) -> str:
    return run("docker", *args, check=check, timeout=timeout).stdout.strip()


def engine_problem() -> str | None:
    """Why no Docker engine can be used, or None when one answers."""
    if not shutil.which("docker"):
        return "the docker command is not installed"
    try:
        result = run("docker", "info", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    return None if result.returncode == 0 else f"no Docker engine answers: {result.stderr.strip()}"


def build(context: Path, tag: str, *options: str) -> float:
    """`docker build` as a user types it (BuildKit); return the seconds it took."""
    started = time.monotonic()
    docker("build", "--label", LABEL, "-t", tag, *options, str(context), timeout=900)
    return time.monotonic() - started


def remove_labelled() -> None:
    """Remove every container this run created, with its anonymous volumes, and every image."""
    for kind, remove in (("ps", ("rm", "-f", "-v")), ("images", ("rmi", "-f"))):
        found = docker(kind, "-aq", "--filter", f"label={LABEL}", check=False).split()
        if found:
            docker(*remove, *sorted(set(found)), check=False)


class Container:
    """A detached container publishing one port on 127.0.0.1; removed on exit."""

    def __init__(self, image: str, port: int, *options: str, command: tuple[str, ...] = ()):
        self.host_port = free_port()
        self.id = docker(
            "run", "-d", "--label", LABEL, "-p", f"127.0.0.1:{self.host_port}:{port}",
            *options, image, *command,
        )  # fmt: skip

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        docker("rm", "-f", "-v", self.id, check=False)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.host_port}{path}"

    def get(self, path: str = "/", timeout: float = 5) -> tuple[int, str]:
        return get(self.url(path), timeout)

    def wait_until_serving(self, timeout: float = 30) -> tuple[int, str]:
        return wait_for(self.get, timeout, f"{self.id[:12]} to serve\n{self.logs()}")

    def exec(self, *command: str) -> str:
        return docker("exec", self.id, *command)

    def logs(self) -> str:
        result = run("docker", "logs", self.id, check=False)
        return result.stdout + result.stderr

    def wait_for_log(self, text: str, timeout: float = 30) -> str:
        return wait_for(lambda: text in (logs := self.logs()) and logs, timeout, repr(text))

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.id))

    def master(self) -> int:
        """Gunicorn's master: the container's PID 1, as a host pid."""
        return self.state()["Pid"]

    def settled_workers(self, count: int) -> list[int]:
        return settled_workers(self.master(), count)

    def wait_until_exited(self, timeout: float = 30) -> dict:
        return wait_for(lambda: (s := self.state())["Running"] is False and s, timeout, "exit")


# Static files -------------------------------------------------------------------------------

# What a bake's static folder holds, and how each is served: (name, Content-Type).
STATIC_FILES = [("app.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml")]
IMMUTABLE = "public, max-age=31536000, immutable"
# Accept-Encoding as sent, and the compressed copy each gets (None: the file itself).
ACCEPT = {"br": "br", "gzip": "gzip", "zstd": "zstd", "identity": None,
          "gzip, deflate, br, zstd": "br"}  # fmt: skip
SUFFIXES = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
# What each request that must not leave the static folder asks for, at the edge and in the app:
# gunicorn.conf.py, and the bake's static/ links (add_links) to it and to /etc/passwd.
TRAVERSALS = [
    "/static/../gunicorn.conf.py", "/static/%2e%2e/gunicorn.conf.py",
    "/static/..%2fgunicorn.conf.py", "/static/%252e%252e/gunicorn.conf.py",
    "/static/..\\gunicorn.conf.py", "/static/%5c..%5cgunicorn.conf.py", "/static/%00",
    "/static/app.css%00", "/static/conf.py", "/static/passwd", "/static/", "/static",
]  # fmt: skip
OUTSIDE = ["wsgi_app", "root:x:0:0"]  # in gunicorn.conf.py, in /etc/passwd


def add_links(project: Path) -> None:
    """Links in the bake's static folder that lead out of it, as a careless user's might."""
    static = project / project.name / "static"
    (static / "conf.py").symlink_to("../../gunicorn.conf.py")
    (static / "passwd").symlink_to("/etc/passwd")


# Run in a container of the app's image: the URLs url_for gives for the names in argv, and the
# bytes of every file in the static folder (its links aside), as JSON.
STATIC_IN_IMAGE = """import base64, json, sys
from pathlib import Path
from flask import url_for
from {package} import create_app
app = create_app()
with app.test_request_context():
    urls = {{name: url_for("static", filename=name) for name in sys.argv[1:]}}
files = {{p.name: base64.b64encode(p.read_bytes()).decode()
          for p in Path(app.static_folder).iterdir() if p.is_file() and not p.is_symlink()}}
print(json.dumps({{"urls": urls, "files": files}}))
"""


def static_in(
    where: list[str], package: str, names=tuple(dict(STATIC_FILES))
) -> tuple[dict[str, str], dict[str, bytes]]:
    """(url_for's URL of each of names, the bytes of each file the build left) in the app's
    image: where is ["exec", a container] or ["run", "--rm", an image]."""
    code = STATIC_IN_IMAGE.format(package=package)
    found = json.loads(docker(*where, "python", "-c", code, *names))
    return found["urls"], {name: base64.b64decode(data) for name, data in found["files"].items()}


# Run in a container of the app's image: each request of the JSON in argv[1], [path, headers],
# sent to Gunicorn on this container's PORT; [status, headers, body in base64] for each.
ASK_THE_APP = """import base64, http.client, json, os, sys
answers = []
for path, headers in json.loads(sys.argv[1]):
    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = base64.b64encode(response.read()).decode()
    answers.append([response.status, response.getheaders(), body])
print(json.dumps(answers))
"""


def ask_the_app(container: str):
    """An ask(requests) that sends each (path, headers) to Gunicorn itself, in the container,
    past any edge: [(status, headers, body)]."""

    def ask(requests: list[tuple[str, dict]]) -> list[tuple]:
        found = json.loads(docker("exec", container, "python", "-c", ASK_THE_APP,
                                  json.dumps(requests)))  # fmt: skip
        answers = []
        for status, pairs, body in found:
            message = http.client.HTTPMessage()
            for name, value in pairs:
                message[name] = value
            answers.append((status, message, base64.b64decode(body)))
        return answers

    return ask


def decoded(body: bytes, encoding: str | None) -> bytes:
    decode = {"br": brotli.decompress, "gzip": gzip.decompress, "zstd": zstd.decompress}
    return decode[encoding](body) if encoding else body


def static_headers(ask, urls: dict[str, str], files: dict[str, bytes]) -> list[tuple]:
    """Every static file by its digest name and its plain name, with each Accept-Encoding:
    the compressed copy the build made (or the file), Content-Type, Cache-Control, one ETag and
    a 304 for it, Vary. ask([(path, headers)]) -> [(status, headers, body)]. Returns the table:
    (file, Accept-Encoding, status, Content-Encoding, Cache-Control, status with the ETag)."""
    cases = [
        (name, content_type, path, cache, accept, encoding)
        for name, content_type in STATIC_FILES
        for path, cache in ((urls[name], IMMUTABLE), (f"/static/{name}", "no-cache"))
        for accept, encoding in ACCEPT.items()
    ]
    for name, _ in STATIC_FILES:
        assert urls[name] != f"/static/{name}", urls  # a digest name
    answers = ask([(path, {"Accept-Encoding": accept}) for _, _, path, _, accept, _ in cases])
    etags = []
    for (name, content_type, path, cache, accept, encoding), answer in zip(cases, answers):
        status, headers, body = answer
        case = (path, accept)
        assert status == 200, (case, status)
        copy = path.rsplit("/", 1)[1] + (SUFFIXES[encoding] if encoding else "")
        assert body == files[copy], case  # the build's copy, as it is
        assert decoded(body, encoding) == files[name], case
        assert headers.get_all("Content-Encoding") == ([encoding] if encoding else None), case
        assert headers.get_all("Content-Type") == [content_type], case
        assert headers.get_all("Cache-Control") == [cache], case
        assert headers.get_all("Vary") == ["Accept-Encoding"], case
        (etag,) = headers.get_all("ETag")
        etags.append(etag)
    again = ask([(path, {"Accept-Encoding": accept, "If-None-Match": etag})
                 for (_, _, path, _, accept, _), etag in zip(cases, etags)])  # fmt: skip
    table = []
    for (name, _, path, cache, accept, encoding), etag, answer in zip(cases, etags, again):
        status, headers, body = answer
        assert (status, body) == (304, b""), (path, accept, status)
        assert headers.get_all("ETag") == [etag] and headers.get_all("Cache-Control") == [cache]
        table.append((path.rsplit("/", 1)[1], accept, 200, encoding or "-", cache, status))
    return table


def refused(ask) -> dict[str, int]:
    """The status of each of TRAVERSALS, none of whose answers holds what lies outside."""
    statuses = {}
    for path, (status, _, body) in zip(TRAVERSALS, ask([(p, {}) for p in TRAVERSALS])):
        assert not any(text.encode() in body for text in OUTSIDE), (path, body[:200])
        statuses[path] = status
    return statuses
