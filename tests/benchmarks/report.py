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
    """Each target of the current setup with the measured value and whether it is met (None: not measured)."""
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
    largest = [t["demo_record_bytes_max"] for t in throughput.values() if t.get("demo_record_bytes_max")]
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
            max(largest) if largest else None,
            KIB,
            unit="B",
        ),
        _target("compiling the 1000-action flow (with its URLs)", compile_1000, 0.5, unit="s"),
    ]


#: Kinds of variant in the production setup, in table order.
PRODUCTION_KINDS = ("floor", "wizard", "fm-db", "fm-redis")


def _production_item(results: dict[str, Any], db: str, fields: int, kind: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = results.get("production", {}).get(f"{db}-{fields}-{kind}")
    return item


def _sent(item: dict[str, Any] | None) -> int | None:
    """What a journey sent to the database: libpq's round trips on PostgreSQL, else Django's statements."""
    if not item:
        return None
    return int(item.get("round_trips", item["statements"]))


def production_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of the production setup (issue 15), each measured or None."""
    steps = results["steps"]
    out = []
    for fields in (1, 5):
        floor = _production_item(results, "postgresql", fields, "floor")
        db = _production_item(results, "postgresql", fields, "fm-db")
        redis = _production_item(results, "postgresql", fields, "fm-redis")
        name = f"statements sent, PostgreSQL, {fields} field(s),"
        excess = None
        if floor and db:
            pairs = list(zip(db["sent_per_step"][2:], floor["sent_per_step"][2:], strict=True))
            excess = max(flow - hand for flow, hand in pairs)
        out.append(_target(f"{name} db store, each step after the first: extra over the floor's", excess, 1))
        limit = _sent(floor) + steps if floor else 0
        out.append(_target(f"{name} db store, whole journey (floor + 1 per step)", _sent(db), limit))
        out.append(_target(f"{name} redis store, whole journey (floor)", _sent(redis), _sent(floor) or 0))
    for fields in (1, 5):
        for db_name in ("postgresql", "sqlite"):
            floor = _production_item(results, db_name, fields, "floor")
            for kind, limit in (("fm-db", 1.15), ("fm-redis", 1.10)):
                item = _production_item(results, db_name, fields, kind)
                store = kind[3:]
                out.append(
                    _target(
                        f"flowmachine / floor, {store} store, {db_name}, {fields} field(s)",
                        _ratio(item, floor),
                        limit,
                        unit="x",
                    )
                )
        wizard = _production_item(results, "postgresql", fields, "wizard")
        redis = _production_item(results, "postgresql", fields, "fm-redis")
        out.append(
            _target(
                f"flowmachine / SessionWizardView, redis store, postgresql, {fields} field(s)",
                _ratio(redis, wizard),
                1.0,
                unit="x",
            )
        )
    for store, tp in (results.get("throughput") or {}).items():
        errors = None if "error" in tp else tp["errors"]
        out.append(_target(f"throughput run, {store} store: errors (locust, logged-in checkouts)", errors, 0))
    return out


def production_table(results: dict[str, Any]) -> list[str]:
    """The production setup's tables: one per form size, a column group per database."""
    production = results.get("production") or {}
    if not production:
        return []
    steps = results["steps"]
    dbs = [db for db in ("sqlite", "postgresql") if any(k.startswith(f"{db}-") for k in production)]
    out = [
        "",
        (
            f"Production setup: sessions in the database the tasks use, CSRF on; a journey is the first page, "
            f"{steps} steps (POST, then the page it redirects to; the wizard answers its POST with the next form) "
            f"and the done page. ms per step = journey / {steps}, medians of "
            f"{results['plan'].get('production_walks')} interleaved journeys; SQL = statements in Django's log per "
            "journey; sent = round trips libpq made (PostgreSQL: an empty transaction sends nothing)."
        ),
    ]
    for fields in (1, 5):
        header = ["variant"]
        for db in dbs:
            header += [f"{db} ms", "CPU", "/floor", "/wizard", "SQL"] + (["sent"] if db == "postgresql" else [])
        rows = []
        for kind in PRODUCTION_KINDS:
            first = next((i for db in dbs if (i := _production_item(results, db, fields, kind))), None)
            if first is None:
                continue
            row = [first["label"]]
            for db in dbs:
                item = _production_item(results, db, fields, kind)
                floor = _production_item(results, db, fields, "floor")
                wizard = _production_item(results, db, fields, "wizard")
                if item is None:
                    row += ["-"] * (6 if db == "postgresql" else 5)
                    continue
                row += [
                    _fmt(item["step"]["median_ms"]),
                    _fmt(item["step"].get("cpu_median_ms")),
                    _fmt(_ratio(item, floor)),
                    _fmt(_ratio(item, wizard)),
                    _fmt(item["statements"]),
                ]
                if db == "postgresql":
                    row.append(_fmt(item.get("round_trips")))
            rows.append(row)
        out += ["", f"{fields} field{'s' if fields > 1 else ''} per step:", _rows(header, rows)]
    return out


def statement_log(results: dict[str, Any], key: str) -> str:
    """Each request of one counted journey of *key* with the statements it made (for the notes)."""
    item = results.get("production", {}).get(key)
    if not item:
        return ""
    lines = []
    for request in item["requests"]:
        sent = f", {request['round_trips']} round trips" if "round_trips" in request else ""
        lines.append(f"{request['method']} ({request['status']}): {len(request['sql'])} statements{sent}")
        lines += [f"    {sql[:110]}" for sql in request["sql"]]
    return "\n".join(lines)


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
    out += production_table(results)
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
    out += ["", "Throughput (the demo under gunicorn, loaded by locust headless; logged-in checkouts):"]
    throughput = results.get("throughput") or {}
    if not throughput:
        out.append("  not run")
    for store, tp in throughput.items():
        if "error" in tp:
            out.append(f"  {store} store: failed: {tp['error']}")
            continue
        p50, p99 = _fmt(tp["p50_ms"], 1), _fmt(tp["p99_ms"], 1)
        out.append(
            f"  {store} store on {tp['database']}: {tp['workers']} workers, {tp['users']} users, "
            f"{tp['duration_s']:.1f} s: {tp['checkouts']} checkouts ({tp['requests_per_checkout']} requests each), "
            f"{tp['checkouts_per_s']:.1f} checkouts/s, {tp['requests_per_s']:.0f} requests/s, "
            f"latency p50 {p50} ms, p99 {p99} ms, errors {tp['errors']}"
        )
        for sample in tp["error_samples"]:
            out.append(f"    error: {sample}")
        plain = tp.get("demo_record_bytes_uncompressed", {})
        sizes = "; ".join(
            f"{k} {v} B ({plain.get(k, '?')} B before compression)" for k, v in tp["demo_record_bytes"].items()
        )
        out.append(f"    demo task record at its largest, per branch: {sizes}")
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
