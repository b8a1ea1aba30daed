"""The tables, in markdown, from run.py's results: medians of rounds, ratios within rounds, and
the targets."""

import re
import statistics

from helpers import TEMPLATE_PROJECT

SHAPES = ["keep-alive", "close"]
PATHS = ["published", "loopback"]
# (row, numerator, denominator): variants loaded in the same round, seconds apart.
RATIOS = [
    ("default / seed", "default", "seed"),
    ("gthread / default", "gthread", "default"),
    ("access log on / off", "access log on", "default"),
    ("json / text, access log on", "json, access log on", "access log on"),
    ("metrics / default", "metrics", "default"),
    ("postgres read (GET /notes) / default", "postgres, read", "default"),
    ("postgres write (POST /notes) / default", "postgres, write", "default"),
    ("caddy + default / default alone", "caddy + default", "default"),
    ("caddy + gthread / caddy + default", "caddy + gthread", "caddy + default"),
    ("caddy https / caddy http, default", "caddy https + default", "caddy + default"),
    ("caddy static (10 kB file) / caddy + default (GET /)", "caddy static", "caddy + default"),
]
SAME_IMAGE = {"access log on": "default", "json, access log on": "default",
              "postgres, write": "postgres, read"}  # fmt: skip
# The per-worker estimate behind the memory cap on workers, as the template states it.
SETTINGS = (TEMPLATE_PROJECT / "serving" / "settings.py").read_text()
WORKER_MEMORY_MIB = int(re.search(r"^WORKER_MEMORY = (\d+) \* 2\*\*20", SETTINGS, re.MULTILINE)[1])


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
        self.samples = [s for s in results.get("samples", []) if "error" not in s]
        self.failed = len(results.get("samples", [])) - len(self.samples)
        self.variants = list(dict.fromkeys(s["variant"] for s in self.samples))
        self.builds = results.get("rebuilds", [])

    def pick(self, variant: str, shape: str | None = None) -> list[dict]:
        """The samples of a variant: one container (or stack) each, loaded by both paths."""
        return [s for s in self.samples if s["variant"] == variant and shape in (None, s["shape"])]

    def med(self, key: str, variant: str, path: str, shape: str) -> float | None:
        return median(sample[path][key] for sample in self.pick(variant, shape))

    def memory(self, key: str, variant: str) -> float | None:
        return median(sample["memory"][key] for sample in self.pick(variant))

    def worker(self, key: str, *variants: str) -> float | None:
        return median(w for v in variants for s in self.pick(v) for w in s["memory"][key])

    def ratio(self, numerator: str, denominator: str, path: str, shape: str) -> float | None:
        """The median over rounds of the ratio of requests/s within each round."""
        mine = {s["round"]: s[path]["rps"] for s in self.pick(numerator, shape)}
        theirs = {s["round"]: s[path]["rps"] for s in self.pick(denominator, shape)}
        return median(mine[r] / theirs[r] for r in mine.keys() & theirs.keys() if theirs[r])

    def port_limited(self, variant: str) -> int:
        def time_wait(sample: dict) -> int:
            return max(sample["time_wait_host"], sample.get("time_wait_upstream", 0))

        return sum(time_wait(sample) >= self.meta["port_limit"] for sample in self.pick(variant))

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
            f"{meta.get('minutes', 0):.1f} min. Rounds: {settings['rounds']}. In each, every "
            "variant and shape gets a fresh container (or stack), warmed up for 1 s, then loaded "
            f"by `wrk -t2 -c50` for {settings['duration']} s through each path. 3 Gunicorn "
            "workers everywhere. Medians of rounds; requests/s count 2xx responses; errors "
            "(socket errors and non-2xx responses) are summed over rounds."
        ),
        "",
        "## Serving",
        "",
        (
            "*published*: wrk on the host, through the port published on 127.0.0.1 "
            "(docker-proxy). *loopback*: wrk inside the container's network namespace (for a "
            "stack, Caddy's) on 127.0.0.1. keep-alive: wrk reuses connections (a sync worker "
            "still closes each one); close: `Connection: close`, a new connection per request. "
            f"On {cores} cores wrk, docker-proxy, Caddy and Gunicorn share the CPUs, so a proxy "
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
                loads = [sample[path] for sample in r.pick(variant, shape)]
                row += [num(r.med("rps", variant, path, shape))]
                row += [num(r.med(p, variant, path, shape), 1) for p in ("p50_ms", "p99_ms")]
                row += [str(sum(load["errors"] + load["non_2xx"] for load in loads))]
            limited = r.port_limited(variant)
            rows.append(row + [f"port-limited in {limited} rounds" if limited else ""])
    header = ["variant", "path"]
    for shape in SHAPES:
        header += [f"{shape} req/s", "p50 ms", "p99 ms", "errors"]
    out += [table([*header, "notes"], rows), ""]
    if r.failed:
        out += [f"{r.failed} containers failed: see results.json.", ""]

    out += ["## Ratios of requests/s", "", "Medians over rounds of the ratio within a round.", ""]
    rows = []
    for label, numerator, denominator in RATIOS:
        cells = [r.ratio(numerator, denominator, p, s) for p in PATHS for s in SHAPES]
        rows.append([label] + ["—" if c is None else f"{c:.2f} ({c - 1:+.0%})" for c in cells])
    out += [table(["ratio"] + [f"{p} {s}" for p in PATHS for s in SHAPES], rows), ""]
    for variant in ("caddy + default", "caddy + gthread"):
        per_request = median(s["time_wait_upstream"] / s["requests"] for s in r.pick(variant))
        if per_request is None:
            continue
        rate = meta["port_limit"] / 60 / per_request if per_request else float("inf")
        out.append(
            f"- {variant}: Caddy left {per_request:.2f} connections to Gunicorn in TIME_WAIT per "
            f"request. Sustained above about {rate:,.0f} requests/s they would fill half its "
            f"ephemeral ports ({meta['port_limit']:,}) within TIME_WAIT's 60 s; compose.yaml "
            "sets net.ipv4.tcp_tw_reuse=1 for Caddy, so new connections reuse them instead of "
            "stalling."
        )
    for variant in ("caddy static", "caddy + default"):
        used = median(s[p].get("app_cpu_s") for s in r.pick(variant) for p in PATHS)
        if used is not None:
            out.append(
                f"- {variant}: Gunicorn's master and workers used {used:.2f} s of CPU during "
                "each load (median of loads), read from /proc before and after it."
            )
    out.append("")

    out += ["## Footprint", ""]
    rows = []
    for variant in [v for v in r.variants if r.pick(v) and "memory" in r.pick(v)[0]]:
        workers = {len(sample["memory"]["worker_pss_mib"]) for sample in r.pick(variant)}
        rows.append(
            [
                variant,
                num(r.memory("pss_mib", variant), 1),
                num(r.memory("rss_mib", variant), 1),
                num(r.worker("worker_pss_mib", variant), 1),
                num(r.worker("worker_private_mib", variant), 1),
                "/".join(map(str, sorted(workers))),
                num(r.image_mb(variant), 1),
                num(median(sample["cold_start_s"] for sample in r.pick(variant)), 2),
                num(median(s["cold_start_s"] - s["floor_s"] for s in r.pick(variant)), 2),
            ]
        )
    header = ["variant", "PSS MiB, master + workers", "RSS MiB", "PSS MiB per worker"]
    header += ["private MiB per worker", "workers", "image MB above base", "cold start s"]
    header += ["above the floor s"]
    worker_pss = r.worker("worker_pss_mib", "default", "gthread")
    out += [
        table(header, rows),
        "",
        (
            "Memory from /proc/PID/smaps_rollup right after the loads: PSS divides each shared "
            "page among the processes that map it; a worker's private memory is what it alone "
            "maps. Image size is above python:3.11-slim. Cold start: `docker run` to the first "
            "200; above the floor: less the same round's `docker run --detach --entrypoint true` "
            f"of the image, what starting any container costs. PSS of one worker of the bakes (median): {num(worker_pss, 1)} MiB, against "
            f"the {WORKER_MEMORY_MIB} MiB per worker that caps the workers by the memory "
            "limit (WORKER_MEMORY in serving/settings.py). Flask and Gunicorn in the images: "
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
    cold = share(*(median(s["cold_start_s"] for s in r.pick(v)) for v in ("default", "seed")))
    targets = [
        ("Image above the base, default / seed", image, "<=", 0.25),
        ("Rebuild after a requirements change, default / seed", share(*requirements), "<=", 0.2),
        ("Code-only rebuilds that reuse the dependency layer (share)", reused, ">=", 1),
        ("PSS of one worker (MiB), within WORKER_MEMORY", worker_pss, "<=", WORKER_MEMORY_MIB),
        ("PSS master + workers, default / seed", pss, "<=", 1),
        ("Cold start, default / seed", cold, "<=", 0.85),
    ]
    for shape in SHAPES:
        value = r.ratio("default", "seed", "published", shape)
        targets.append((f"Requests/s published {shape}, default / seed", value, ">=", 1))
    for shape in SHAPES:
        value = r.ratio("metrics", "default", "loopback", shape)
        targets.append((f"Requests/s loopback {shape}, metrics / default", value, ">=", 0.9))
    # Keep-alive: browsers fetch a page's files over connections they keep (the ratios table
    # has the close shape too, where a new connection per request costs both alike).
    for path in PATHS:
        value = r.ratio("caddy static", "caddy + default", path, "keep-alive")
        check = f"Requests/s through the edge, {path} keep-alive, 10 kB static file / GET /"
        targets.append((check, value, ">=", 5))
    idle = median(s[p].get("app_cpu_s") for s in r.pick("caddy static") for p in PATHS)
    targets.append(("Gunicorn's CPU s during a load of the static file (median)", idle, "<=", 0.05))
    rows = []
    for check, value, op, limit in targets:
        met = None if value is None else value <= limit if op == "<=" else value >= limit
        result = "n/a" if met is None else "PASS" if met else "MISS"
        rows.append([check, "—" if value is None else f"{value:.3g}", f"{op} {limit}", result])
    out += ["## Targets", "", table(["check", "value", "target", "result"], rows)]
    return "\n".join(out)
