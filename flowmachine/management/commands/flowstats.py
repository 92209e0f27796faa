"""``manage.py flowstats FLOW``: the funnel of a flow, step by step."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowmachine import registry
from flowmachine.engine import funnel as _funnel
from flowmachine.machine.places import FINAL


class Command(BaseCommand):
    help = "Show how many tasks entered, completed and abandoned each step of FLOW (needs FLOWS_FUNNEL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("flow", help="The flow's name: its entry-point Scaffold's class name.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not _funnel.enabled():
            raise CommandError("Funnel analytics are off: set FLOWS_FUNNEL = 'db' or 'redis' and let tasks run.")
        name = options["flow"]
        counts = _funnel.read(name)
        if not counts:
            raise CommandError(f"No funnel counts for flow {name!r}: check the name (the entry-point class name).")
        self.stdout.write("\n".join(format_table(name, counts, _step_order(name, counts))))


def _step_order(name: str, counts: dict[str, dict[str, int]]) -> list[str]:
    """Steps in the flow's definition order when it is loaded, then the rest by most entered."""
    compiled = registry.find_flow(name)
    known = [p.name for p in compiled.root.walk() if p.is_action] if compiled else []
    order = [step for step in known if step in counts]
    rest = sorted((s for s in counts if s not in order and s != FINAL), key=lambda s: -counts[s]["entered"])
    return order + rest


def format_table(name: str, counts: dict[str, dict[str, int]], steps: list[str]) -> list[str]:
    """The drop-off table: entered, completed, abandoned and drop-off per step."""
    header = ("step", "entered", "completed", "abandoned", "drop-off")
    rows = []
    for step in steps:
        c = counts[step]
        entered = c["entered"]
        drop = f"{100 * (entered - c['completed']) / entered:.1f}%" if entered else "-"
        rows.append((step, str(entered), str(c["completed"]), str(c["abandoned"]), drop))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells)
        ).rstrip()

    started = max((counts[s]["entered"] for s in steps[:1]), default=0)
    finished = counts.get(FINAL, {}).get("entered", 0)
    rate = f" ({100 * finished / started:.1f}%)" if started else ""
    return [
        f"Funnel of {name}",
        line(header),
        line(tuple("-" * w for w in widths)),
        *(line(r) for r in rows),
        "",
        f"finished: {finished} of {started} started{rate}",
    ]
