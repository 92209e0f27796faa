"""The benchmark's targets and its table on stdout."""

from __future__ import annotations

from typing import Any

KIB = 1024


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b:
        return None
    return a["step"]["median_ms"] / b["step"]["median_ms"]


def _target(name: str, value: float | None, limit: float, strict: bool = False, unit: str = "") -> dict[str, Any]:
    met = None if value is None else (value < limit if strict else value <= limit)
    return {"target": name, "value": value, "limit": limit, "op": "<" if strict else "<=", "unit": unit, "met": met}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 5 with the measured value and whether it is met (None: not measured)."""
    compare, scale = results["compare"], results["scale"]
    fm = compare.get("fm-db-sqlite")
    counted = [*compare.items(), *scale.items()]
    sql = [
        v["store_sql_per_request_max"]
        for k, v in counted
        if k.startswith(("fm-db-", "linear-", "nested-")) and "store_sql_per_request_max" in v
    ]
    redis = compare.get("fm-redis", {}).get("redis_per_request_max")
    throughput = results.get("throughput") or {}
    compile_1000 = scale.get("linear-1000", {}).get("compile", {}).get("best_s")
    return [
        _target(
            "flowmachine step / FormView step (db store, SQLite)", _ratio(fm, compare.get("floor")), 1.25, unit="x"
        ),
        _target(
            "flowmachine step / SessionWizardView step (db store, SQLite)",
            _ratio(fm, compare.get("wizard")),
            1.0,
            strict=True,
            unit="x",
        ),
        _target(
            "per-step time, 1000-action / 10-action flow",
            _ratio(scale.get("linear-1000"), scale.get("linear-10")),
            1.10,
            unit="x",
        ),
        _target(
            "per-step time, 20-deep / 1-deep nesting",
            _ratio(scale.get("nested-20"), scale.get("nested-1")),
            1.10,
            unit="x",
        ),
        _target(
            "store SQL queries per request, db store (every flow, SQLite and PostgreSQL)", max(sql) if sql else None, 2
        ),
        _target("Redis round trips per request, redis store", redis, 2),
        _target(
            "encoded task record of the demo checkout at its largest",
            throughput.get("demo_record_bytes_max"),
            KIB,
            unit="B",
        ),
        _target("compiling the 1000-action flow (with its URLs)", compile_1000, 0.5, unit="s"),
    ]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _rows(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def table(results: dict[str, Any]) -> str:
    """The results as plain-text tables."""
    compare, scale = results["compare"], results["scale"]
    machine = results["machine"]
    out = [
        f"django-flowmachine benchmark ({results['mode']} run, {results['when']})",
        f"{machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, Django {machine['django']}",
        (
            f"Sessions: {results['sessions']} backend for every variant. A step is the POST of a form plus the GET "
            "of the page it leads to (the wizard renders the next form in its POST response)."
        ),
        "",
        (
            f"{results['steps']}-step form, {results['plan']['walks']} walks per variant (warm-up excluded), "
            "times per step in ms:"
        ),
    ]
    floor, wizard = compare.get("floor"), compare.get("wizard")
    rows = []
    for key, item in compare.items():
        fm = key.startswith("fm-")
        rows.append(
            [
                item["label"],
                _fmt(item["step"]["median_ms"]),
                _fmt(item["step"]["p90_ms"]),
                _fmt(item["step"].get("cpu_median_ms")),
                _fmt(item.get("requests_per_step"), 1),
                _fmt(_ratio(item, floor)),
                _fmt(_ratio(item, wizard)),
                _fmt(item["store_sql_per_request_max"]) if fm else "-",
                _fmt(item["sql_per_step"]),
                _fmt(item["redis_per_request_max"]) if key == "fm-redis" else "-",
                _fmt(item["record_bytes_max"]),
            ]
        )
    out.append(
        _rows(
            [
                "variant",
                "median",
                "p90",
                "CPU median",
                "req/step",
                "/floor",
                "/wizard",
                "store SQL/req",
                "SQL/step",
                "Redis cmds/req",
                "record B",
            ],
            rows,
        )
    )
    out += ["", "Scaling (db store, SQLite; steps 1-9 of each flow):"]
    rows = []
    for item in scale.values():
        compile_cost = item.get("compile")
        rows.append(
            [
                item["label"],
                _fmt(item["step"]["median_ms"]),
                _fmt(item["step"]["p90_ms"]),
                _fmt(item.get("store_sql_per_request_max")),
                _fmt(item.get("record_bytes_max", item.get("record_bytes"))),
                _fmt(item["step"].get("cpu_median_ms")),
                _fmt(compile_cost["best_s"] * 1000, 1) if compile_cost else "-",
                _fmt(compile_cost["cpu_best_s"] * 1000, 1) if compile_cost else "-",
            ]
        )
    out.append(
        _rows(
            ["flow", "median", "p90", "store SQL/req", "record B", "CPU median", "compile ms", "compile CPU ms"], rows
        )
    )
    out += ["", "Throughput (the demo under gunicorn, Redis store):"]
    tp = results.get("throughput")
    if not tp:
        out.append("  not run")
    elif "error" in tp:
        out.append(f"  failed: {tp['error']}")
    else:
        out.append(
            f"  {tp['workers']} workers, {tp['threads']} client threads, {tp['duration_s']:.1f} s: "
            f"{tp['checkouts']} checkouts ({tp['requests_per_checkout']} requests each), "
            f"{tp['checkouts_per_s']:.1f} checkouts/s, {tp['requests_per_s']:.0f} requests/s, "
            f"latency p50 {tp['p50_ms']:.1f} ms, p99 {tp['p99_ms']:.1f} ms, errors {tp['errors']}"
        )
        for sample in tp["error_samples"]:
            out.append(f"  error: {sample}")
        plain = tp.get("demo_record_bytes_uncompressed", {})
        sizes = "; ".join(
            f"{k} {v} B ({plain.get(k, '?')} B before compression)" for k, v in tp["demo_record_bytes"].items()
        )
        out.append(f"  demo task record at its largest, per branch: {sizes}")
    out += ["", "Targets:"]
    for t in results["targets"]:
        state = "not measured" if t["met"] is None else ("MET" if t["met"] else "NOT MET")
        value = _fmt(t["value"], 3) + t["unit"]
        out.append(f"  [{state}] {t['target']}: {value} ({t['op']} {t['limit']}{t['unit']})")
    floor_to_wizard = _ratio(compare.get("floor"), compare.get("wizard"))
    if floor_to_wizard is not None and floor_to_wizard >= 1.0:
        out.append(
            f"  note: the floor itself is {floor_to_wizard:.2f}x the wizard: it redirects after each POST "
            "(two requests per step) where the wizard renders the next form in the POST's response (one)"
        )
    for note in results["notes"]:
        out.append(f"  note: {note}")
    return "\n".join(out)
