"""Medians, the markdown tables, the targets and the chart, from the raw results of run.py."""

from pathlib import Path

from measure import median

SHAPES = {"keepalive": "keep-alive", "close": "no keep-alive"}


def summarize(results: dict) -> None:
    """Add a 'summary' to every variant and the 'targets' list to results (in place)."""
    ceilings = {app: median(rps) for app, rps in results["ceiling_rps_per_core"].items()}
    cores = results["meta"]["cores"]
    for variant in results["variants"]:
        rounds = [r for r in variant["rounds"] if "error" not in r]
        summary = {"rounds": len(rounds), "failed_rounds": len(variant["rounds"]) - len(rounds)}
        for shape in SHAPES:
            loads = [r[shape] for r in rounds]
            rps = [load["rps"] for load in loads]
            summary[shape] = {
                "rps": median(rps),
                "rps_min": min(rps, default=None),
                "rps_max": max(rps, default=None),
                "p50_ms": median([load["p50_ms"] for load in loads]),
                "p99_ms": median([load["p99_ms"] for load in loads]),
                "requests": sum(load["requests"] for load in loads),
                "socket_errors": sum(load["socket_errors"] for load in loads),
                "non_2xx": sum(load["non_2xx"] for load in loads),
            }
        # Every load ran in a fresh container: each gives a cold start and a memory sample.
        samples = [r[shape] for r in rounds for shape in SHAPES]
        summary["pss_mb"] = median([sample["memory"]["pss_mb"] for sample in samples])
        summary["rss_mb"] = median([sample["memory"]["rss_mb"] for sample in samples])
        summary["workers"] = sorted({sample["memory"]["workers"] for sample in samples})
        summary["cold_start_s"] = median([sample["cold_start_s"] for sample in samples])
        # Loads that left more TIME_WAIT ports towards their container than half the
        # ephemeral range: past that, finding a free port slows new connections down.
        limit = results["meta"]["ephemeral_ports"] / 2
        summary["port_limited_loads"] = sum(sample["time_wait_after"] > limit for sample in samples)
        ceiling = ceilings.get(variant["app"])
        rps = summary["keepalive"]["rps"]
        summary["share_of_ceiling"] = rps / (ceiling * cores) if rps and ceiling else None
        info = variant["info"]
        base = results["meta"]["base_image_bytes"]
        summary["image_overhead_mb"] = (info["image_bytes"] - base) / 1e6 if info else None
        summary["bake_s"] = median(results["bake_s"].get(variant["key"], []))
        rebuild = results["rebuild"].get(variant["key"], {})
        for kind in ("code", "requirements"):
            summary[f"rebuild_{kind}_s"] = median([b["seconds"] for b in rebuild.get(kind, [])])
        code = rebuild.get("code", [])
        summary["dep_layer_reused"] = all(b["dep_layer_cached"] for b in code) if code else None
        variant["summary"] = summary
    results["targets"] = targets(results)


def targets(results: dict) -> list[dict]:
    by_key = {v["key"]: v["summary"] for v in results["variants"] if v["summary"]["rounds"]}
    seed, default = by_key.get("seed"), by_key.get("default")
    if not seed or not default:
        return []
    rows = []

    def ratio_row(check, mine, theirs, target, at_least, extra_ok=True, note=""):
        ratio = mine / theirs if mine is not None and theirs else None
        if ratio is None:
            result = "n/a"
        else:
            met = ratio >= target if at_least else ratio <= target
            result = "PASS" if met and extra_ok else "MISS"
        rows.append(
            {
                "check": check,
                "default": mine,
                "seed": theirs,
                "ratio": ratio,
                "target": f"{'>=' if at_least else '<='} {target}",
                "result": result,
                "note": note,
            }
        )

    for shape, label in SHAPES.items():
        errors = default[shape]["socket_errors"] + default[shape]["non_2xx"]
        ratio_row(
            f"Requests/s, {label}",
            default[shape]["rps"],
            seed[shape]["rps"],
            1.0,
            True,
            extra_ok=errors == 0,
            note=f"default errors: {errors}",
        )
    worker_options = [key for key in ("default", "gthread") if key in by_key]
    for shape, label in SHAPES.items():
        best = max(worker_options, key=lambda key: by_key[key][shape]["rps"] or 0)
        ratio_row(
            f"Requests/s of the best worker option, {label}",
            by_key[best][shape]["rps"],
            seed[shape]["rps"],
            1.3,
            True,
            note=f"best: {best}",
        )
    for shape, label in SHAPES.items():
        ratio_row(
            f"p99 latency, {label}", default[shape]["p99_ms"], seed[shape]["p99_ms"], 1.5, False
        )
    ratio_row("Memory PSS, master + 3 workers", default["pss_mb"], seed["pss_mb"], 1.0, False)
    ratio_row("Memory RSS, master + 3 workers", default["rss_mb"], seed["rss_mb"], 1.0, False)
    rows[-1]["result"] = "(info)"  # the target is on PSS; RSS counts shared pages per process
    ratio_row(
        "Image size above python:3.11-slim",
        default["image_overhead_mb"],
        seed["image_overhead_mb"],
        0.6,
        False,
    )
    ratio_row(
        "Cold start, docker run to first 200",
        default["cold_start_s"],
        seed["cold_start_s"],
        1.0,
        False,
    )
    reused = default["dep_layer_reused"]
    rows.append(
        {
            "check": "Code-only rebuild reuses the dependency layer",
            "default": yes_no(reused),
            "seed": yes_no(seed["dep_layer_reused"]),
            "ratio": None,
            "target": "yes",
            "result": "n/a" if reused is None else "PASS" if reused else "MISS",
            "note": "",
        }
    )
    return rows


def yes_no(value: bool | None) -> str:
    return "n/a" if value is None else "yes" if value else "no"


def num(value, digits: int = 0, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def errors(load: dict) -> str:
    if not load["socket_errors"] and not load["non_2xx"]:
        return "0"
    return f"{load['socket_errors']} socket / {load['non_2xx']} non-2xx"


def markdown(results: dict) -> str:
    meta, settings = results["meta"], results["settings"]
    variants = results["variants"]
    loads = [
        sample["loadavg_before"]
        for v in variants
        for r in v["rounds"]
        for sample in (r.get(shape) for shape in SHAPES)
        if sample
    ] or [0.0]
    intro = (
        f"{meta['started']}, commit {meta['commit']}; {meta['cores']} cores; "
        f"{settings['rounds']} rounds x {settings['duration']} s per load shape "
        f"(+{settings['warmup']} s warm-up); wrk {settings['connections']} connections, "
        f"{settings['threads']} threads, through the published port on 127.0.0.1. "
        "Medians across rounds; errors are totals over all rounds. Every variant runs 3 workers. "
        f"Load average (1 min) before the loads: {min(loads):.1f} to {max(loads):.1f}."
    )
    out = ["# Benchmark: template bakes vs the seed", "", intro, "", "## Serving", ""]
    rows = []
    for v in variants:
        s = v.get("summary")
        if v.get("error") or not s or not s["rounds"]:
            rows.append(
                [v["title"], f"failed: {v.get('error') or 'every round failed'}"] + [""] * 9
            )
            continue
        row = [v["title"]]
        for shape in SHAPES:
            load = s[shape]
            row += [num(load["rps"]), num(load["p50_ms"], 2), num(load["p99_ms"], 2), errors(load)]
        row += [num(100 * s["share_of_ceiling"], 1, " %") if s["share_of_ceiling"] else "—"]
        notes = []
        if s["failed_rounds"]:
            notes.append(f"{s['failed_rounds']} rounds failed")
        if s["port_limited_loads"]:
            notes.append(f"{s['port_limited_loads']} loads port-limited")
        row += ["; ".join(notes)]
        rows.append(row)
    header = ["variant"]
    for label in SHAPES.values():
        header += [f"{label} rps", "p50 ms", "p99 ms", "errors"]
    header += ["keep-alive rps / ceiling", "notes"]
    out += [table(header, rows), ""]
    if any(v.get("summary", {}).get("port_limited_loads") for v in variants):
        out.append(
            "A load is port-limited when it left more than half the ephemeral port range "
            f"({meta['ephemeral_ports']} ports) in TIME_WAIT towards its container: past that, "
            "docker-proxy's new connections to the container stall, so that load understates "
            "what the server can do.\n"
        )

    out += ["## Footprint and build", ""]
    rows = []
    for v in variants:
        s = v.get("summary")
        if v.get("error") or not s or not s["rounds"]:
            continue
        same = f"= {v['image_of']}" if v["image_of"] else None
        rows.append(
            [
                v["title"],
                num(s["pss_mb"], 1),
                num(s["rss_mb"], 1),
                "/".join(map(str, s["workers"])),
                same or num(s["image_overhead_mb"], 1),
                num(s["cold_start_s"], 2),
                num(s["bake_s"], 2),
                same or num(v["info"].get("build_s"), 1),
                num(s["rebuild_code_s"], 1),
                num(s["rebuild_requirements_s"], 1),
                yes_no(s["dep_layer_reused"]) if s["dep_layer_reused"] is not None else "—",
            ]
        )
    header = [
        "variant",
        "PSS MB",
        "RSS MB",
        "workers",
        "image +MB",
        "cold start s",
        "bake s",
        "build s (no cache)",
        "rebuild, code change s",
        "rebuild, requirements change s",
        "code rebuild reuses deps layer",
    ]
    out += [table(header, rows), ""]

    ceilings = results["ceiling_rps_per_core"]
    ceiling = (
        "In-process ceiling (the app called as a WSGI callable in one process, with bench's "
        f"Flask {meta['bench_flask']}): seed app {num(median(ceilings['seed']))} rps, template "
        f"app {num(median(ceilings['template']))} rps per core. Times {meta['cores']} cores, "
        "that is the most any server could serve here with no HTTP parsing and no sockets; "
        "wrk also runs on these cores."
    )
    out += [ceiling, "", "Variants:", ""]
    for v in variants:
        versions = ", ".join(
            f"{k} {val}" for k, val in v["info"].get("versions", {}).items() if val
        )
        out.append(f"- **{v['title']}**: {v['what']}" + (f" ({versions})" if versions else ""))
    fast = results["fast_extra"]
    verdict = "installs" if fast["ok"] else f"fails: `{fast['error']}`"
    out += ["", f"`{fast['command']}` in `python:3.11` (pip {fast['pip']}): {verdict}", ""]

    out += ["## Targets (default bake vs seed)", ""]
    rows = []
    for t in results["targets"]:
        fmt = (lambda x: x) if isinstance(t["default"], str) else (lambda x: num(x, 2))
        rows.append(
            [
                t["check"],
                fmt(t["default"]),
                fmt(t["seed"]),
                num(t["ratio"], 2),
                t["target"],
                t["result"],
                t["note"],
            ]
        )
    out += [table(["check", "default", "seed", "ratio", "target", "result", "note"], rows), ""]
    if meta.get("other_containers"):
        out.append(
            f"Other containers were running during the run (up to {meta['other_containers']}): "
            "they share the cores, so absolute numbers are noisier; ratios still compare "
            "variants measured in the same rounds."
        )
    return "\n".join(out)


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    variants = [v for v in results["variants"] if v.get("summary", {}).get("rounds")]
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))

    def bars(ax, chosen: list[dict], series: dict, title: str, unit: str) -> None:
        """Grouped bars; a series is (values) or (values, (lows, highs)) for whiskers."""
        width = 0.8 / len(series)
        for i, (label, values) in enumerate(series.items()):
            values, spread = values if isinstance(values, tuple) else (values, None)
            offsets = [p - 0.4 + width * (i + 0.5) for p in range(len(chosen))]
            heights = [v or 0 for v in values]
            errors = None
            if spread:  # min and max across rounds around the median
                errors = [
                    [h - (lo or h) for h, lo in zip(heights, spread[0])],
                    [(hi or h) - h for h, hi in zip(heights, spread[1])],
                ]
            ax.bar(offsets, heights, width, label=label, yerr=errors, capsize=3)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xticks(
            range(len(chosen)), [v["title"] for v in chosen], rotation=30, ha="right", fontsize=8
        )
        if len(series) > 1:
            ax.legend(fontsize=8)

    def values(chosen: list[dict], *keys: str) -> list:
        out = []
        for v in chosen:
            value = v["summary"]
            for key in keys:
                value = value[key]
            out.append(value)
        return out

    rps = {
        label: (
            values(variants, shape, "rps"),
            (values(variants, shape, "rps_min"), values(variants, shape, "rps_max")),
        )
        for shape, label in SHAPES.items()
    }
    bars(
        axes[0][0], variants, rps, "Requests/s (median; whiskers: min-max of rounds)", "requests/s"
    )
    bars(
        axes[0][1],
        variants,
        {label: values(variants, shape, "p99_ms") for shape, label in SHAPES.items()},
        "p99 latency (median)",
        "ms",
    )
    bars(
        axes[0][2],
        variants,
        {"PSS": values(variants, "pss_mb"), "RSS": values(variants, "rss_mb")},
        "Memory, master + 3 workers, after load",
        "MB",
    )
    built = [v for v in variants if not v["image_of"]]
    bars(
        axes[1][0],
        built,
        {"image": values(built, "image_overhead_mb")},
        "Image size above python:3.11-slim",
        "MB",
    )
    bars(
        axes[1][1],
        variants,
        {"cold start": values(variants, "cold_start_s")},
        "Cold start: docker run to first 200 (median)",
        "s",
    )
    rebuilt = [v for v in variants if v["summary"]["rebuild_code_s"] is not None]
    bars(
        axes[1][2],
        rebuilt,
        {
            "code change": values(rebuilt, "rebuild_code_s"),
            "requirements change": values(rebuilt, "rebuild_requirements_s"),
        },
        "Rebuild time, legacy builder",
        "s",
    )
    settings = results["settings"]
    fig.suptitle(
        f"Template bakes vs seed: {settings['rounds']} rounds x {settings['duration']} s "
        f"per load, {results['meta']['started']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
