"""Sphinx configuration of the django-flowmachine documentation (built with -W)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

project = "django-flowmachine"
author = "django-flowmachine developers"
copyright = "2026, django-flowmachine developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False


def setup(app):  # noqa: ANN001, ANN201
    # ```mermaid blocks (as in diagrams.md) render on GitHub; here they show as plain text.
    from pygments.lexers.special import TextLexer

    app.add_lexer("mermaid", TextLexer)
