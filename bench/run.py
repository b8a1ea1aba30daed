"""Benchmark the template's baked images against the seed project, in one run.

    python bench/run.py                          # 5 rounds x 8 s per load shape
    python bench/run.py --rounds 3 --duration 5  # quicker

Every variant is built from the same base images, then measured in alternating rounds
(A, B, C, A, B, C, ...) so machine drift cancels; the tables report medians across rounds.
Writes bench/results/results.md, results.json and chart.png. See bench/README.md.
"""

import argparse
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import measure
import report

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
BUILD_BASE, RUN_BASE = "python:3.11", "python:3.11-slim"
# The newest gunicorn_h1c on PyPI; gunicorn[fast] 27.0.1 itself asks for >= 0.6.14.
H1C = "gunicorn_h1c==0.6.10"
# Appended to a bake's gunicorn.conf.py: replaces the template's pre_fork hook, whose
# gc.freeze() keeps a worker's garbage collector from writing to (and unsharing) the pages of
# objects preloaded in the master.
NO_GC_FREEZE = """

def pre_fork(server, worker):
    pass"""
DEFAULT_ANSWERS: dict[str, str] = {}
GTHREAD_ANSWERS = {"worker_class": "gthread", "threads": "4", "workers": "3"}


@dataclass
class Variant:
    key: str
    title: str
    what: str
    app: str  # whose in-process ceiling applies: "seed" or "template"
    context: Path | None = None  # build context; None when it runs another variant's image
    image_of: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    image: str = ""
    info: dict = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)
    error: str | None = None


def prepare(tmp: Path) -> list[Variant]:
    """Build contexts: the seed, two bakes, and bakes with one Gunicorn setting changed."""
    seed = measure.copy_tree(BENCH / "seed", tmp / "seed")
    default, _ = measure.bake(REPO, tmp / "bake-default", DEFAULT_ANSWERS)
    gthread, _ = measure.bake(REPO, tmp / "bake-gthread", GTHREAD_ANSWERS)

    def changed(source: Path, name: str, settings: list[str], requirements=()) -> Path:
        # Appended last in gunicorn.conf.py, so the setting wins over the template's own.
        context = measure.copy_tree(source, tmp / name)
        for line in settings:
            measure.append_line(context / "gunicorn.conf.py", line)
        for line in requirements:
            measure.append_line(context / "requirements.txt", line)
        return context

    fast_parser = changed(default, "fast-parser", ['http_parser = "fast"'], [H1C])
    # PyPI has gunicorn_h1c 0.6.10 as source only: pip compiles it. The official python:3.11
    # has gcc and headers; a base without them (a stand-in) gets them from Debian first.
    dockerfile = fast_parser / "Dockerfile"
    dockerfile.write_text(
        re.sub(
            r"^(FROM \S+ AS build\n)",
            r"\1RUN command -v gcc >/dev/null || (apt-get update && apt-get install -y "
            r"--no-install-recommends gcc libc6-dev python3-dev)\n",
            dockerfile.read_text(),
            count=1,
            flags=re.MULTILINE,
        )
    )

    variants = [
        Variant(
            "seed",
            "seed",
            "bench/seed: the seed project as its README gives it "
            "(unpinned gunicorn, runs as root, default control socket)",
            "seed",
            seed,
        ),
        Variant(
            "seed_no_ctl",
            "seed --no-control-socket",
            "the seed image run with GUNICORN_CMD_ARGS=--no-control-socket: what the "
            "control socket costs",
            "seed",
            image_of="seed",
            env={"GUNICORN_CMD_ARGS": "--no-control-socket"},
        ),
        Variant(
            "default",
            "default (sync)",
            "cookiecutter --no-input: sync, 3 workers, port 6000",
            "template",
            default,
        ),
        Variant(
            "default_no_preload",
            "sync preload_app=False",
            "default bake with preload_app = False",
            "template",
            changed(default, "no-preload", ["preload_app = False"]),
        ),
        Variant(
            "default_no_gc_freeze",
            "sync without gc.freeze()",
            "default bake with its pre_fork hook (gc.freeze() in the master before each fork) "
            "replaced by one that does nothing",
            "template",
            changed(default, "no-gc-freeze", [NO_GC_FREEZE]),
        ),
        Variant(
            "default_fast_parser",
            "sync http_parser=fast",
            f'default bake with {H1C} and http_parser = "fast"',
            "template",
            fast_parser,
        ),
        Variant(
            "gthread",
            "gthread",
            "cookiecutter worker_class=gthread threads=4 workers=3 "
            "(Gunicorn's keepalive default, 2 s)",
            "template",
            gthread,
        ),
        Variant(
            "gthread_keepalive_0",
            "gthread keepalive=0",
            "gthread bake with keepalive = 0 (closes each connection after its response)",
            "template",
            changed(gthread, "gthread-ka0", ["keepalive = 0"]),
        ),
    ]
    for variant in variants:
        context = variant.context or next(v.context for v in variants if v.key == variant.image_of)
        variant.port = int(
            re.search(r"^EXPOSE (\d+)", (context / "Dockerfile").read_text(), re.MULTILINE)[1]
        )
    return variants


def probe_fast_extra(docker: measure.Docker, gunicorn_pin: str) -> dict:
    """Try `pip install gunicorn[fast]` where the images install packages: the build base."""
    command = f"pip install 'gunicorn[fast]=={gunicorn_pin}'"
    script = f"python -m venv /tmp/v && /tmp/v/bin/pip --version && /tmp/v/bin/{command} --dry-run"
    name = f"{docker.prefix}-pip-probe"
    docker.containers.add(name)
    output = docker(
        "run",
        "--rm",
        "--name",
        name,
        "--label",
        docker.label,
        BUILD_BASE,
        "sh",
        "-c",
        script,
        check=False,
    )
    docker.containers.discard(name)
    pip = re.search(r"^pip (\S+)", output, re.MULTILINE)
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    return {
        "command": command,
        "pip": pip[1] if pip else "?",
        "ok": "Would install" in output,
        "error": errors[0].removeprefix("ERROR: ") if errors else None,
        "output": output[-2000:],
    }


def build_all(docker: measure.Docker, variants: list[Variant]) -> None:
    for variant in variants:
        if variant.image_of:
            continue
        variant.image = f"{docker.prefix}-{variant.key.replace('_', '-')}"
        print(f"build {variant.key} ...", flush=True)
        try:
            # No cache: every variant pays the same full build, and all its layers are ours.
            build = docker.build(variant.context, variant.image, no_cache=True)
            variant.info = {
                "build_s": build.seconds,
                "image_bytes": docker.image_size(variant.image),
                "versions": docker.versions(variant.image),
            }
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            variant.error = str(error).splitlines()[0]
            print(f"  {variant.error}", flush=True)
    for variant in variants:
        if variant.image_of:
            source = next(v for v in variants if v.key == variant.image_of)
            variant.image, variant.info, variant.error = source.image, source.info, source.error


def serve_round(docker: measure.Docker, variant: Variant, number: int, args) -> dict:
    """One fresh container per load shape: cold start, warm-up, load, then memory.

    A container of its own per shape keeps the keep-alive load's closed connections from
    using up the ports the no-keep-alive load needs (see Docker.unique_ip).
    """
    options = {"connections": args.connections, "threads": args.threads}
    result: dict = {}
    for shape, close in (("keepalive", False), ("close", True)):
        name = f"{docker.prefix}-{variant.key.replace('_', '-')}-r{number}-{shape}"
        # Other work on the machine competes with this measurement: keep its load average.
        sample = {"loadavg_before": float(Path("/proc/loadavg").read_text().split()[0])}
        try:
            sample |= docker.start(variant.image, name, variant.port, variant.env)
            measure.wrk(sample["port"], args.warmup, close=close, **options)  # not recorded
            sample |= measure.wrk(sample["port"], args.duration, close=close, **options)
            sample["time_wait_after"] = measure.time_wait_to(sample["ip"])
            sample["memory"] = docker.memory(name)  # after the load: workers are warm
        except (RuntimeError, subprocess.TimeoutExpired, OSError, TypeError) as error:
            result["error"] = str(error).splitlines()[0] if str(error) else repr(error)
            break
        finally:
            docker.remove(name)
        result[shape] = sample
    return result


def other_containers(docker: measure.Docker) -> int:
    """Containers not ours that run now: they compete for the same cores."""
    ours = set(docker("ps", "-q", "--filter", f"label={docker.label}", check=False).split())
    return len(set(docker("ps", "-q", check=False).split()) - ours)


def rebuilds(docker: measure.Docker, variants: list[Variant], tmp: Path, rounds: int) -> dict:
    """Rebuild after appending a comment to app.py, then to requirements.txt (legacy builder)."""
    results: dict = {}
    subjects = [v for v in variants if v.key in ("seed", "default") and not v.error]
    for number in range(rounds):
        for variant in subjects:
            for kind, changed_file in (("code", "app.py"), ("requirements", "requirements.txt")):
                context = measure.copy_tree(variant.context, tmp / f"rebuild-{number}-{kind}")
                # A new comment every time, so no earlier rebuild can serve it from cache.
                measure.append_line(context / changed_file, f"# bench rebuild {uuid.uuid4().hex}")
                tag = f"{variant.image}-rebuild-{kind}"
                print(f"rebuild {variant.key} after a {kind} change ...", flush=True)
                try:
                    build = docker.build(context, tag)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    print(f"  {str(error).splitlines()[0]}", flush=True)
                    continue
                finally:
                    shutil.rmtree(context)
                results.setdefault(variant.key, {}).setdefault(kind, []).append(
                    {"seconds": build.seconds, "dep_layer_cached": build.dep_layer_cached}
                )
    return results


def preflight() -> None:
    missing = [tool for tool in ("docker", "wrk", "ss") if not shutil.which(tool)]
    if missing:
        raise SystemExit(f"bench needs {', '.join(missing)} on PATH")
    try:
        import cookiecutter  # noqa: F401
        import flask  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"{error}: pip install -r requirements-dev.txt -r bench/requirements.txt")
    measure.sh("docker", "image", "inspect", BUILD_BASE, RUN_BASE)  # both bases present


def meta(docker: measure.Docker) -> dict:
    from importlib.metadata import version

    commit = measure.sh("git", "-C", str(REPO), "rev-parse", "--short", "HEAD", check=False)
    dirty = measure.sh("git", "-C", str(REPO), "status", "--porcelain", check=False).strip()
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit.strip() + ("+changes" if dirty else ""),
        "cores": os.cpu_count(),
        "ephemeral_ports": measure.ephemeral_ports(),
        "docker": docker("version", "--format", "{{.Client.Version}} / {{.Server.Version}}"),
        "wrk": measure.sh("wrk", "-v", check=False).splitlines()[0],
        "python": sys.version.split()[0],
        "bench_flask": version("flask"),
        "base_image_bytes": docker.image_size(RUN_BASE),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def run(docker: measure.Docker, tmp: Path, args) -> dict:
    info = meta(docker)
    variants = prepare(tmp)
    if args.only:
        keep = {"seed", "default", *args.only.split(",")}
        variants = [v for v in variants if v.key in keep]
    default = next(v for v in variants if v.key == "default")
    pin = re.search(
        r"^gunicorn==(\S+)", (default.context / "requirements.txt").read_text(), re.MULTILINE
    )
    fast_extra = probe_fast_extra(docker, pin[1] if pin else "27.0.1")
    build_all(docker, variants)
    active = [v for v in variants if not v.error]

    ceilings: dict[str, list] = {"seed": [], "template": []}
    apps = {"seed": BENCH / "seed" / "app.py", "template": default.context / "app.py"}
    bakes: dict[str, list] = {"default": [], "gthread": []}
    busy = 0
    for number in range(1, args.rounds + 1):
        busy = max(busy, other_containers(docker))
        print(f"round {number}/{args.rounds}", flush=True)
        for app, app_py in apps.items():
            ceilings[app].append(measure.ceiling(app_py, args.ceiling_seconds))
        for key, answers in (("default", DEFAULT_ANSWERS), ("gthread", GTHREAD_ANSWERS)):
            project, seconds = measure.bake(REPO, tmp / f"bake-timing-{number}-{key}", answers)
            bakes[key].append(seconds)
            shutil.rmtree(project.parent)
        for variant in active:
            result = serve_round(docker, variant, number, args)
            variant.rounds.append(result)
            shown = result.get("error") or (
                f"{result['keepalive']['rps']:.0f} / {result['close']['rps']:.0f} rps, "
                f"cold start {result['keepalive']['cold_start_s']:.2f} s, "
                f"PSS {result['keepalive']['memory']['pss_mb']:.0f} MB"
            )
            print(f"  {variant.key:22} {shown}", flush=True)
    rebuild = rebuilds(docker, variants, tmp, args.rebuild_rounds)

    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    info["other_containers"] = busy
    return {
        "meta": info,
        "settings": vars(args),
        "fast_extra": fast_extra,
        "ceiling_rps_per_core": ceilings,
        "bake_s": bakes,
        "rebuild": rebuild,
        "variants": [{**asdict(v), "context": None, "info": v.info or {}} for v in variants],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all variants")
    # Warm-up plus load stay short enough that a sync worker's new connection per request
    # does not use up docker-proxy's ports (see Docker.unique_ip).
    parser.add_argument("--duration", type=int, default=8, help="seconds per load shape")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rebuild-rounds", type=int, default=1)
    parser.add_argument("--ceiling-seconds", type=float, default=3)
    parser.add_argument("--only", help="comma-separated variant keys (seed and default always)")
    args = parser.parse_args()
    preflight()
    # docker stop / kill: unwind through the finally blocks below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    docker = measure.Docker(f"bench-{uuid.uuid4().hex[:8]}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    started = time.perf_counter()
    try:
        results = run(docker, tmp, args)
    finally:
        print("cleaning up ...", flush=True)
        docker.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)

    report.summarize(results)
    text = report.markdown(results)
    print("\n" + text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.md").write_text(text + "\n")
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report.chart(results, RESULTS / "chart.png")
    print(
        f"wrote {RESULTS}/results.md, results.json, chart.png "
        f"({(time.perf_counter() - started) / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
