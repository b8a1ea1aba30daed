"""The tables, in markdown, from run.py's results: medians of rounds, ratios within rounds, and
the targets."""

import re
import statistics

from helpers import TEMPLATE

SHAPES = ["keep-alive", "close"]
PATHS = ["published", "loopback"]
# (row, numerator, denominator): variants loaded in the same round, seconds apart.
RATIOS = [
    ("default / seed", "default", "seed"),
    ("gthread / default", "gthread", "default"),
    ("access log on / off", "access log on", "default"),
    ("json / text, access log on", "json, access log on", "access log on"),
    ("nginx + default / default alone", "nginx + default", "default"),
    ("nginx + gthread / nginx + default", "nginx + gthread", "nginx + default"),
]
SAME_IMAGE = {"access log on": "default", "json, access log on": "default"}
# The per-worker estimate behind the memory cap of workers=auto, as the template states it.
CONF = next(TEMPLATE.glob("*cookiecutter.project_slug*/gunicorn.conf.py")).read_text()
WORKER_MEMORY_MIB = int(re.search(r"^WORKER_MEMORY = (\d+) \* 2\*\*20", CONF, re.MULTILINE)[1])


def median(values) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def share(mine: float | None, theirs: float | None) -> float | None:
    return mine / theirs if mine is not None and theirs else None


def num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


class Results:
    """Lookups over one run's samples."""

    def __init__(self, results: dict):
        self.meta, self.images = results["meta"], results.get("images", {})
        self.base = self.meta["base_bytes"]
        self.loads = [load for load in results.get("loads", []) if "error" not in load]
        self.failed = len(results.get("loads", [])) - len(self.loads)
        self.variants = list(dict.fromkeys(load["variant"] for load in self.loads))
        self.builds = results.get("rebuilds", [])

    def pick(self, variant: str, path: str | None = None, shape: str | None = None) -> list:
        return [
            load
            for load in self.loads
            if load["variant"] == variant and path in (None, load["path"])
            and shape in (None, load["shape"])
        ]  # fmt: skip

    def med(self, key: str, variant: str, path: str | None = None, shape: str | None = None):
        return median(load[key] for load in self.pick(variant, path, shape))

    def memory(self, key: str, variant: str) -> float | None:
        return median(load["memory"][key] for load in self.pick(variant))

    def worker(self, key: str, *variants: str) -> float | None:
        return median(w for v in variants for load in self.pick(v) for w in load["memory"][key])

    def ratio(self, numerator: str, denominator: str, path: str, shape: str) -> float | None:
        """The median over rounds of the ratio of requests/s within each round."""
        mine = {load["round"]: load["rps"] for load in self.pick(numerator, path, shape)}
        theirs = {load["round"]: load["rps"] for load in self.pick(denominator, path, shape)}
        return median(mine[r] / theirs[r] for r in mine.keys() & theirs.keys() if theirs[r])

    def port_limited(self, variant: str, path: str) -> int:
        def time_wait(load: dict) -> int:
            return max(load.get("time_wait_host", 0), load.get("time_wait_upstream", 0))

        return sum(time_wait(load) >= self.meta["port_limit"] for load in self.pick(variant, path))

    def image_mb(self, variant: str) -> float | None:
        image = self.images.get(SAME_IMAGE.get(variant, variant))
        return (image["bytes"] - self.base) / 1e6 if image else None

    def rebuilds(self, subject: str, change: str) -> list[dict]:
        return [b for b in self.builds if b["subject"] == subject and b["change"] == change]

    def rebuild_s(self, subject: str, change: str) -> float | None:
        return median(b["seconds"] for b in self.rebuilds(subject, change))


def markdown(results: dict) -> str:
    r = Results(results)
    meta, settings = r.meta, results["settings"]
    cores = meta["cores"]
    out = [
        "# Benchmark: template bakes vs the seed",
        "",
        (
            f"{meta['started']}, commit {meta['commit']}, {cores} cores, load average "
            f"{' then '.join(meta['loadavg'])}, Docker {meta['docker']}. Run time "
            f"{meta.get('minutes', 0):.1f} min. Rounds: {settings['rounds']}; each load is "
            f"`wrk -t2 -c50` for {settings['duration']} s after 1 s of warm-up, on a fresh "
            "container (or stack); 3 Gunicorn workers everywhere. Medians of rounds; errors "
            "(socket errors and non-2xx) summed over rounds."
        ),
        "",
        "## Serving",
        "",
        (
            "*published*: wrk on the host, through the port published on 127.0.0.1 "
            "(docker-proxy). *loopback*: wrk inside the container's network namespace (for a "
            "stack, nginx's) on 127.0.0.1. keep-alive: wrk reuses connections (a sync worker "
            "still closes each one); close: `Connection: close`, a new connection per request. "
            f"On {cores} cores wrk, docker-proxy, nginx and Gunicorn share the CPUs, so a proxy "
            "in front costs CPU the workers would have had; the stack runs with the CPU and "
            "memory limits compose.yaml sets."
        ),
        "",
    ]
    rows = []
    for variant in r.variants:
        for path in PATHS:
            row = [variant, path]
            for shape in SHAPES:
                loads = r.pick(variant, path, shape)
                row += [num(r.med("rps", variant, path, shape))]
                row += [num(r.med(p, variant, path, shape), 1) for p in ("p50_ms", "p99_ms")]
                row += [str(sum(load["errors"] + load["non_2xx"] for load in loads))]
            limited = r.port_limited(variant, path)
            rows.append(row + [f"{limited} loads port-limited" if limited else ""])
    header = ["variant", "path"]
    for shape in SHAPES:
        header += [f"{shape} req/s", "p50 ms", "p99 ms", "errors"]
    out += [table([*header, "notes"], rows), ""]
    if r.failed:
        out += [f"{r.failed} loads failed: see results.json.", ""]

    out += ["## Ratios of requests/s", "", "Medians over rounds of the ratio within a round.", ""]
    rows = []
    for label, numerator, denominator in RATIOS:
        cells = [r.ratio(numerator, denominator, p, s) for p in PATHS for s in SHAPES]
        rows.append([label] + ["—" if c is None else f"{c:.2f} ({c - 1:+.0%})" for c in cells])
    out += [table(["ratio"] + [f"{p} {s}" for p in PATHS for s in SHAPES], rows), ""]
    for variant in ("nginx + default", "nginx + gthread"):
        per_request = median(
            load["time_wait_upstream"] / load["all_requests"] for load in r.pick(variant)
        )
        if per_request is None:
            continue
        line = f"- {variant}: nginx left {per_request:.2f} connections to Gunicorn in TIME_WAIT"
        line += " per request"
        if per_request > 0.01:  # a new upstream connection per request: sync workers close them
            rate = meta["port_limit"] / 60 / per_request
            line += (
                f". Sustained above about {rate:,.0f} requests/s, they fill half its ephemeral "
                f"ports ({meta['port_limit']:,}) within TIME_WAIT's 60 s, and its new "
                "connections to Gunicorn stall (loads here are kept shorter than that)."
            )
        out.append(line + ("" if per_request > 0.01 else ": upstream keep-alive reuses them."))
    out.append("")

    out += ["## Footprint", ""]
    rows = []
    for variant in [v for v in r.variants if r.pick(v) and "memory" in r.pick(v)[0]]:
        workers = {len(load["memory"]["worker_pss_mib"]) for load in r.pick(variant)}
        rows.append(
            [
                variant,
                num(r.memory("pss_mib", variant), 1),
                num(r.memory("rss_mib", variant), 1),
                num(r.worker("worker_pss_mib", variant), 1),
                num(r.worker("worker_private_mib", variant), 1),
                "/".join(map(str, sorted(workers))),
                num(r.image_mb(variant), 1),
                num(r.med("cold_start_s", variant), 2),
            ]
        )
    header = ["variant", "PSS MiB, master + workers", "RSS MiB", "PSS MiB per worker"]
    header += ["private MiB per worker", "workers", "image MB above base", "cold start s"]
    worker_pss = r.worker("worker_pss_mib", "default", "gthread")
    out += [
        table(header, rows),
        "",
        (
            "Memory from /proc/PID/smaps_rollup right after each load: PSS divides each shared "
            "page among the processes that map it; a worker's private memory is what it alone "
            "maps. Image size is above python:3.11-slim. Cold start: `docker run` to the first "
            f"200. PSS of one worker of the bakes (median): {num(worker_pss, 1)} MiB, against "
            f"the {WORKER_MEMORY_MIB} MiB per worker that caps workers=auto by the memory "
            "limit (WORKER_MEMORY in gunicorn.conf.py). Flask and Gunicorn in the images: "
            + "; ".join(f"{name} {image['flask_gunicorn']}" for name, image in r.images.items())
            + "."
        ),
        "",
    ]

    out += ["## Rebuild", ""]
    rows = []
    for subject in dict.fromkeys(b["subject"] for b in r.builds):
        for change in ("requirements", "code"):
            builds = r.rebuilds(subject, change)
            seconds = [b["seconds"] for b in builds]
            cached = sum(b["dependencies_cached"] for b in builds)
            rows.append(
                [
                    subject,
                    f"{change} change",
                    num(median(seconds), 2),
                    f"{min(seconds):.2f} to {max(seconds):.2f}",
                    f"cached in {cached} of {len(builds)}",
                ]
            )
    out += [
        (
            "`docker build` (BuildKit), timed whole, after appending a comment with a fresh "
            "random value to requirements.txt, or to the app's code (views.py; the seed's "
            "app.py). An untimed rebuild first fills the cache mount uv installs from."
        ),
        "",
        table(["project", "after a", "seconds", "range", "dependency layer"], rows),
        "",
    ]

    code = r.rebuilds("default", "code")
    reused = sum(b["dependencies_cached"] for b in code) / len(code) if code else None
    requirements = [r.rebuild_s(s, "requirements") for s in ("default", "seed")]
    image = share(r.image_mb("default"), r.image_mb("seed"))
    pss = share(r.memory("pss_mib", "default"), r.memory("pss_mib", "seed"))
    cold = share(r.med("cold_start_s", "default"), r.med("cold_start_s", "seed"))
    targets = [
        ("Image above the base, default / seed", image, "<=", 0.25),
        ("Rebuild after a requirements change, default (s)", requirements[0], "<=", 1),
        ("Rebuild after a requirements change, default / seed", share(*requirements), "<=", 0.25),
        ("Code-only rebuilds that reuse the dependency layer (share)", reused, ">=", 1),
        ("PSS of one worker (MiB), within WORKER_MEMORY", worker_pss, "<=", WORKER_MEMORY_MIB),
        ("PSS master + workers, default / seed", pss, "<=", 1),
        ("Cold start, default / seed", cold, "<=", 1),
    ]
    for shape in SHAPES:
        value = r.ratio("default", "seed", "published", shape)
        targets.append((f"Requests/s published {shape}, default / seed", value, ">=", 1))
    rows = []
    for check, value, op, limit in targets:
        met = None if value is None else value <= limit if op == "<=" else value >= limit
        result = "n/a" if met is None else "PASS" if met else "MISS"
        rows.append([check, num(value, 2), f"{op} {limit}", result])
    out += ["## Targets", "", table(["check", "value", "target", "result"], rows)]
    return "\n".join(out)
