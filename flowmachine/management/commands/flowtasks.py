"""``manage.py flowtasks``: the live tasks in the state store, and (``--stranded``) which a deploy would move."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowmachine import registry
from flowmachine.backends import get_store
from flowmachine.exceptions import StoreUnavailable
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.deploys import flow_names, relocation
from flowmachine.record import Record


@dataclass(frozen=True)
class Stranded:
    """A live task the loaded flow definitions would move (or cannot continue)."""

    task_id: str
    flow: str
    old: str
    new: str
    reason: str


class Command(BaseCommand):
    help = (
        "List live tasks per flow and step. With --stranded, run with the code about to be deployed: "
        "list the tasks whose saved position that definition would move, and where to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stranded", action="store_true", help="List the tasks the loaded definitions would move.")
        parser.add_argument("--store", default=None, help="Store module's dotted path (default FLOWS_STATE_STORE).")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--check", action="store_true", help="With --stranded: exit 1 if any task would move.")

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store(options["store"])
        flows = _loaded_flows()
        try:
            states = list(store.iter_states())
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc
        except StoreUnavailable as exc:
            raise CommandError(f"The state store is unavailable: {exc}") from exc
        if options["stranded"]:
            stranded = find_stranded(states, flows)
            self._report_stranded(stranded, len(states), options["format"])
            if options["check"] and stranded:
                raise SystemExit(1)
        else:
            self._report_counts(states, options["format"])

    def _report_stranded(self, stranded: list[Stranded], total: int, fmt: str) -> None:
        if fmt == "json":
            self.stdout.write(json.dumps({"live": total, "stranded": [asdict(s) for s in stranded]}, indent=2))
            return
        if not stranded:
            self.stdout.write(f"No live task would move ({total} live).")
            return
        header = ("task", "flow", "from", "to", "why")
        rows = [(s.task_id, s.flow, s.old, s.new, s.reason) for s in stranded]
        self.stdout.write("\n".join(_table(header, rows)))
        self.stdout.write(f"{len(stranded)} of {total} live tasks would move.")

    def _report_counts(self, states: list[tuple[str, dict[str, Any] | None]], fmt: str) -> None:
        counts: Counter[tuple[str, str]] = Counter()
        for _task_id, record in states:
            if record is None:
                counts[("?", "(unreadable)")] += 1
            elif "done" in record:
                counts[(str(record.get("flow")), "(finished)")] += 1
            else:
                counts[(str(record.get("flow")), str(record.get("pos")))] += 1
        rows = sorted(counts.items())
        if fmt == "json":
            data = [{"flow": f, "position": p, "tasks": n} for (f, p), n in rows]
            self.stdout.write(json.dumps(data, indent=2))
            return
        table = [(f, p, str(n)) for (f, p), n in rows]
        self.stdout.write("\n".join(_table(("flow", "position", "tasks"), table)))
        self.stdout.write(f"{len(states)} live tasks.")


def _loaded_flows() -> dict[str, CompiledFlow]:
    """Every flow served by the project's handlers, by each name its records may carry."""
    registry.load_urlconf()
    flows: dict[str, CompiledFlow] = {}
    for _, compiled in registry.compiled_flows():
        if compiled.problems:
            continue
        for name in flow_names(compiled):
            flows.setdefault(name, compiled)
    return flows


def find_stranded(states: list[tuple[str, dict[str, Any] | None]], flows: dict[str, CompiledFlow]) -> list[Stranded]:
    """The unfinished tasks whose position *flows* would move, or could not continue."""
    stranded: list[Stranded] = []
    for task_id, raw in states:
        if raw is None or Record(raw).finished:
            continue
        record = Record(raw)
        name, position = str(record.flow), raw.get("pos")
        flow = flows.get(name)
        if flow is None:
            stranded.append(Stranded(task_id, name, str(position), "-", "flow not served: 404"))
            continue
        if not isinstance(position, str):
            stranded.append(Stranded(task_id, name, repr(position), "-", "no position: 410"))
            continue
        move = relocation(flow, record)
        if move is not None:
            if move.moved:
                stranded.append(Stranded(task_id, name, move.old, move.new, move.reason))
            continue
        place = flow.places.get(position)
        if place is None or not place.is_action:
            stranded.append(Stranded(task_id, name, position, "-", "saved without a fingerprint; gone: 410"))
    return sorted(stranded, key=lambda s: (s.flow, s.old, s.task_id))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
