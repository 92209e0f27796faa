"""``manage.py flowgraph FLOW -o file.svg``: draw a flow's compiled machine."""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowmachine import registry
from flowmachine.components import Scaffold
from flowmachine.diagrams import FORMATS, DiagramsUnavailable, render
from flowmachine.exceptions import FlowDefinitionError

_EXTENSIONS = {
    "svg": "svg",
    "png": "png",
    "pdf": "pdf",
    "dot": "dot",
    "gv": "dot",
    "mmd": "mermaid",
    "mermaid": "mermaid",
}


class Command(BaseCommand):
    help = (
        "Draw a flow as a diagram: scaffolds as boxes, actions as nodes, COMPLETE and jump "
        "transitions as labelled edges. FLOW is an entry point's name as registered with a "
        "FlowHandler (e.g. Purchase) or the dotted path of a Scaffold (e.g. shop.flows.Purchase)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("flow", metavar="FLOW", help="entry-point name or dotted path of a Scaffold")
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="file to write; its extension (.svg, .png, .pdf, .dot, .gv, .mmd) gives the format. "
            "Default: standard output.",
        )
        parser.add_argument(
            "-f",
            "--format",
            choices=FORMATS,
            help="output format (default: from the file's extension, else dot). "
            "All but mermaid need the diagrams extra (pygraphviz).",
        )
        parser.add_argument(
            "--no-jumps",
            action="store_true",
            help="leave out the jump points and their dashed goto:Name edges",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        flow = find_flow(options["flow"])
        output: str | None = options["output"]
        fmt: str | None = options["format"]
        if fmt is None and output:
            suffix = Path(output).suffix.lower().lstrip(".")
            fmt = _EXTENSIONS.get(suffix)
            if fmt is None:
                raise CommandError(
                    f"Cannot tell the format from {output!r}: use a .svg, .png, .pdf, .dot or .mmd "
                    f"file, or --format {{{','.join(FORMATS)}}}."
                )
        fmt = fmt or "dot"
        try:
            data = render(flow, fmt, jumps=not options["no_jumps"])
        except DiagramsUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except FlowDefinitionError as exc:
            raise CommandError(f"{flow.__name__} cannot be drawn:\n{exc}") from exc
        if output:
            Path(output).write_bytes(data)
            self.stdout.write(f"Wrote the {fmt} diagram of {flow.__name__} to {output}.")
        else:
            out = getattr(self.stdout, "_out", sys.stdout)
            if hasattr(out, "buffer"):
                out.buffer.write(data)
                out.flush()
            else:
                out.write(data.decode("utf-8", "replace"))


def find_flow(spec: str) -> type[Scaffold]:
    """The entry-point Scaffold *spec* names: a dotted path, or a name registered with a handler."""
    if "." in spec:
        module_name, _, attr = spec.rpartition(".")
        try:
            value = getattr(import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise CommandError(f"Cannot import {spec!r}: {exc}.") from exc
        if not (isinstance(value, type) and issubclass(value, Scaffold)):
            raise CommandError(f"{spec} is {value!r}, not a Scaffold subclass.")
        return value
    try:
        registry.load_urlconf()
    except Exception as exc:
        raise CommandError(f"The URLconf cannot be loaded, so no flow is registered: {exc}") from exc
    found: dict[type[Scaffold], None] = {}
    for _, entry in registry.entry_points():
        if entry.__name__ == spec:
            found[entry] = None
    if len(found) == 1:
        return next(iter(found))
    if found:
        paths = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in found)
        raise CommandError(f"Several registered flows are named {spec!r}: {paths}. Give its dotted path.")
    known = sorted({e.__name__ for _, e in registry.entry_points()})
    raise CommandError(
        f"No FlowHandler has an entry point named {spec!r}. Registered: {', '.join(known) or 'none'}. "
        "Or give a Scaffold's dotted path (module.Class)."
    )
