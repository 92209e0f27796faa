"""The benchmark's command line: run the sections, print the table, write the JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

MODES: dict[str, dict[str, Any]] = {
    # walks: timed walks of the N-step form per variant; scale_walks: timed walks
    # of the scaling flows; late_walks: walks to the end of the 1000-action flow.
    "full": {
        "walks": 200,
        "warmup": 20,
        "production_walks": 200,
        "scale_walks": 100,
        "late_walks": 1,
        "compile_reps": 5,
        "duration": 30.0,
        "users": 8,
    },
    "quick": {
        "walks": 40,
        "warmup": 5,
        "production_walks": 40,
        "scale_walks": 20,
        "late_walks": 0,
        "compile_reps": 2,
        "duration": 5.0,
        "users": 8,
    },
    "smoke": {
        "walks": 2,
        "warmup": 1,
        "production_walks": 2,
        "scale_walks": 1,
        "late_walks": 0,
        "compile_reps": 1,
        "duration": 2.0,
        "users": 2,
    },
}

#: Steps timed in every scaling flow: the same positions, so only the flow's size differs.
SCALE_STEPS = range(9)
LATE_FROM = 990


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="fewer iterations and a 5 s load (about a minute)",
    )
    mode.add_argument(
        "--smoke",
        dest="mode",
        action="store_const",
        const="smoke",
        help="a handful of iterations: checks that the benchmark runs, numbers are noise",
    )
    parser.set_defaults(mode="full")
    parser.add_argument(
        "--json", default="benchmark-results.json", help="where to write the results (default: %(default)s)"
    )
    parser.add_argument(
        "--sessions",
        choices=["db", "cache", "signed_cookies"],
        default="db",
        help="session backend of every variant (default: %(default)s, Django's default)",
    )
    parser.add_argument("--walks", type=int, help="timed walks per variant (overrides the mode)")
    parser.add_argument("--duration", type=float, help="seconds of load on the demo (overrides the mode)")
    parser.add_argument("--users", type=int, help="locust users loading the demo (overrides the mode)")
    parser.add_argument("--no-postgres", action="store_true", help="leave out the PostgreSQL variant")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis variants")
    parser.add_argument("--no-throughput", action="store_true", help="leave out the gunicorn throughput run")
    parser.add_argument(
        "--profile",
        metavar="HTML",
        help="also profile walks of flowmachine on SQLite with pyinstrument, written to HTML",
    )
    parser.add_argument(
        "--only",
        choices=["compare", "production", "scale", "throughput"],
        action="append",
        help="run only this section (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(MODES[args.mode])
    for name in ("walks", "duration", "users"):
        if getattr(args, name) is not None:
            plan[name] = getattr(args, name)

    from tests.benchmarks import config

    services = config.configure(args.sessions, use_pg=not args.no_postgres, use_redis=not args.no_redis)
    try:
        results = _run(args, plan, services)
    finally:
        config.cleanup(services)
    from tests.benchmarks import report

    print(report.table(results))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nResults written to {args.json}")
    return 0


def _machine() -> dict[str, Any]:
    import django

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
    }


def _run(args: argparse.Namespace, plan: dict[str, Any], services: Any) -> dict[str, Any]:
    from tests.benchmarks.flows import STEPS

    notes = [n for n in (services.pg_error, services.redis_error) if n and not n.endswith("not requested")]
    results: dict[str, Any] = {
        "mode": args.mode,
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": "python -m tests.benchmarks" + ("" if args.mode == "full" else f" --{args.mode}"),
        "machine": _machine(),
        "plan": plan,
        "sessions": args.sessions,
        "steps": STEPS,
        "notes": notes,
    }

    sections = set(args.only or ("compare", "production", "scale", "throughput"))
    results["compare"] = _compare(plan) if "compare" in sections else {}
    results["production"] = _production(plan) if "production" in sections else {}
    if args.profile:
        _profile(args.profile, plan)
    results["scale"] = _scale(plan) if "scale" in sections else {}
    if "throughput" not in sections or args.no_throughput:
        results["throughput"] = None
    else:
        from tests.benchmarks import throughput

        results["throughput"] = throughput.run(
            services.workdir,
            None if services.redis_error else services.redis_url,
            services.pg,
            plan["duration"],
            plan["users"],
            _progress,
        )
    from tests.benchmarks import report

    results["targets"] = report.targets(results) + report.production_targets(results)
    return results


def _compare(plan: dict[str, Any]) -> dict[str, Any]:
    """(a), (b) and (c) on the N-step form."""
    from tests.benchmarks import measure, urls
    from tests.benchmarks.flows import STEPS

    variants: list[measure.Variant] = [measure.Floor(), measure.Wizard()]
    labels = {
        "db-sqlite": "(c) flowmachine, db store, SQLite",
        "db-postgresql": "(c) flowmachine, db store, PostgreSQL",
        "redis": "(c) flowmachine, redis store",
    }
    for name, handler in urls.HANDLERS.items():
        variants.append(measure.Flow(f"fm-{name}", labels[name], f"/fm/{name}/start/", handler.get_store()))
    _progress(f"timing the {STEPS}-step form: {plan['walks']} walks per variant after {plan['warmup']} warm-up walks")
    timed = measure.time_walks(variants, plan["walks"], plan["warmup"])
    compare: dict[str, Any] = {}
    for variant in variants:
        counted = measure.counted_walk(variant)
        counted.pop("requests")
        compare[variant.key] = {
            "label": variant.label,
            "step": measure.summary(timed[variant.key].step, timed[variant.key].step_cpu),
            "start": measure.summary(timed[variant.key].start),
            **counted,
        }
    return compare


def _production(plan: dict[str, Any]) -> dict[str, Any]:
    """The production setup: sessions in the database the tasks use, CSRF on, one and five fields.

    Every variant of every database and form size takes its turn in the same
    rounds; each journey goes from the first page to the done page.
    """
    from tests.benchmarks import measure, urls
    from tests.benchmarks.flows import FORMS

    variants: list[measure.Variant] = []
    for (db, fields), spec in urls.PRODUCTION.items():
        variants += measure.production_variants(db, fields, spec, FORMS[fields][1])
    walks = plan["production_walks"]
    _progress(f"timing the production setup: {len(variants)} variants, {walks} journeys each")
    timed = measure.time_journeys(variants, walks, plan["warmup"])
    production: dict[str, Any] = {}
    for variant in variants:
        counted = measure.counted_journey(variant)
        production[variant.key] = {
            "label": variant.label,
            "step": measure.summary(timed[variant.key].step, timed[variant.key].step_cpu),
            **counted,
        }
    return production


def _scale(plan: dict[str, Any]) -> dict[str, Any]:
    """Per-step time and compile cost of growing and deepening flows."""
    from tests.benchmarks import measure, urls
    from tests.benchmarks.flows import LINEAR_FLOWS

    scale: dict[str, Any] = {}
    flows = [(key, label, flow) for key, (label, flow, _) in urls.SCALE_FLOWS.items()]
    store = urls.SCALE_STORE
    scale_variants = [
        measure.Flow(key, label, f"/scale/{key}/{flow.url}", store, steps=len(SCALE_STEPS))
        for key, label, flow in flows
    ]
    _progress(f"timing steps 1-{len(SCALE_STEPS)} of the scaling flows: {plan['scale_walks']} walks each")
    timed = measure.time_walks(scale_variants, plan["scale_walks"], max(1, plan["warmup"] // 2), SCALE_STEPS)
    for (key, label, flow), variant in zip(flows, scale_variants):
        counted = measure.counted_walk(variant, SCALE_STEPS)
        counted.pop("requests")
        scale[key] = {
            "label": label,
            "step": measure.summary(timed[key].step, timed[key].step_cpu),
            **counted,
            "compile": _compile_cost(flow, plan["compile_reps"]),
        }
    if plan["late_walks"]:
        _progress(f"timing steps {LATE_FROM + 1}-999 of the 1000-action flow ({plan['late_walks']} walks)")
        scale["linear-1000-late"] = _late_steps(LINEAR_FLOWS[1000], store, plan["late_walks"])
    return scale


def _profile(path: str, plan: dict[str, Any]) -> None:
    """Profile flowmachine's walks of the N-step form (db store, SQLite) into an HTML file."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit('--profile needs pyinstrument: pip install "django-flowmachine[test]"') from None
    from tests.benchmarks import measure, urls

    variant = measure.Flow("fm-db-sqlite", "", "/fm/db-sqlite/start/", urls.HANDLERS["db-sqlite"].get_store())
    _progress(f"profiling {plan['walks']} walks of flowmachine (db store, SQLite) into {path}")
    profiler = Profiler(interval=0.0005)
    profiler.start()
    measure.time_walks([variant], plan["walks"], 0)
    profiler.stop()
    Path(path).write_text(profiler.output_html())


def _compile_cost(flow: Any, reps: int) -> dict[str, Any]:
    """Seconds to compile *flow* alone, and with its URL patterns in a fresh handler (best of *reps*)."""
    from flowmachine import FlowHandler, registry
    from flowmachine.machine.compiler import CompiledFlow

    machine, total, cpu = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        CompiledFlow(flow, "")
        machine.append(time.perf_counter() - t0)
        c0, t0 = time.process_time(), time.perf_counter()
        handler = FlowHandler(app_namespace="compile-cost")
        handler.register_entry_point(flow)
        _ = handler.urls  # compiles the flow and builds its URL patterns
        total.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        registry.unregister_handler(handler)
    return {
        "best_s": min(total),
        "median_s": sorted(total)[len(total) // 2],
        "cpu_best_s": min(cpu),
        "machine_only_best_s": min(machine),
        "reps": reps,
    }


def _late_steps(flow: Any, store: Any, walks: int) -> dict[str, Any]:
    """Per-step time near the end of a long flow, where the record holds a long history."""
    from tests.benchmarks import measure

    samples: list[int] = []
    variant = measure.Flow("linear-1000-late", "", f"/scale/linear-1000/{flow.url}", store)
    for _ in range(walks):
        variant.start()
        for index in range(LATE_FROM):
            variant.step(index)
        for index in range(LATE_FROM, 999):
            t0 = time.perf_counter_ns()
            variant.step(index)
            samples.append(time.perf_counter_ns() - t0)
    return {
        "label": f"steps {LATE_FROM + 1}-999 of 1000 actions",
        "step": measure.summary(samples),
        "record_bytes": variant.record_size(),
    }


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)
