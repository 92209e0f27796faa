"""The user-facing strings ship translated into German, French, Spanish, Dutch and Brazilian Portuguese."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.utils import translation

from flowmachine.pages import PAGES, error_page

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "flowmachine"
LANGUAGES = {"de": "de", "fr": "fr", "es": "es", "nl": "nl", "pt_BR": "pt-br"}


def marked_strings() -> set[str]:
    """Every string the package marks for translation: ``_("...")`` in code, ``{% translate "..." %}`` in templates."""
    found: set[str] = set()
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    found.add(node.args[0].value)
    for template in (PACKAGE / "templates").rglob("*.html"):
        found.update(re.findall(r'{%\s*translate\s+"([^"]+)"\s*%}', template.read_text()))
    return found


def catalog(lang: str) -> dict[str, str]:
    with open(PACKAGE / "locale" / lang / "LC_MESSAGES" / "django.mo", "rb") as mo:
        return {k: v for k, v in gettext.GNUTranslations(mo)._catalog.items() if k}  # type: ignore[attr-defined]


def test_the_package_marks_its_user_facing_strings():
    marked = marked_strings()
    assert len(marked) >= 20 and "Start again" in marked and "This %(noun)s has expired" in marked


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_marked_string_is_translated(lang):
    translated = catalog(lang)
    missing = [s for s in marked_strings() if not translated.get(s)]
    assert missing == []
    for msgid in marked_strings():
        assert ("%(noun)s" in msgid) == ("%(noun)s" in translated[msgid]), msgid


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_the_refusal_pages_speak_the_active_language(lang):
    english = {str(text) % {"noun": "form"} for pair in PAGES.values() for text in pair} | {"Start again", "Continue"}
    request = RequestFactory().get("/")
    with translation.override(LANGUAGES[lang]):
        for kind in PAGES:
            page = error_page(request, kind, status=410, restart_url="/a/", continue_url="/b/").content.decode()
            assert f'<html lang="{LANGUAGES[lang]}">' in page
            left = [text for text in english if f">{text}<" in page or f"<p>{text}</p>" in page]
            assert left == [], (kind, left)
