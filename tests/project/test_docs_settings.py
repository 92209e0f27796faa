"""The reference pages match the code: every setting and system check is documented.

docs/settings.md must have a section per ``FLOWS_*`` setting in
``flowmachine.conf.DEFAULTS``, headed by its name and stating its default as a
Python literal; no section may describe a setting that does not exist.
docs/concepts.md must list every system check id the library can report.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from flowmachine.conf import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DOC = ROOT / "docs" / "settings.md"
CONCEPTS_DOC = ROOT / "docs" / "concepts.md"

_SECTION = re.compile(r"^#+ `(FLOWS_[A-Z0-9_]+)`\s*$(.*?)(?=^#|\Z)", re.M | re.S)
_DEFAULT = re.compile(r"^Default: `(.+?)`\s*$", re.M)


def documented() -> dict[str, str]:
    return {name: body for name, body in _SECTION.findall(SETTINGS_DOC.read_text())}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_setting_has_a_section(name: str) -> None:
    assert name in documented(), f"{name} is in flowmachine.conf.DEFAULTS but has no section in docs/settings.md"


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_the_documented_default_is_the_real_one(name: str) -> None:
    body = documented().get(name)
    if body is None:
        pytest.skip("no section (reported by test_every_setting_has_a_section)")
    match = _DEFAULT.search(body)
    assert match, f"the section of {name} in docs/settings.md has no 'Default: `...`' line"
    assert ast.literal_eval(match.group(1)) == DEFAULTS[name], (
        f"docs/settings.md says {name} defaults to {match.group(1)}, the code says {DEFAULTS[name]!r}"
    )


def test_no_section_describes_a_setting_that_does_not_exist() -> None:
    stale = sorted(set(documented()) - set(DEFAULTS))
    assert not stale, f"docs/settings.md documents settings flowmachine does not read: {stale}"


def test_the_settings_page_has_no_duplicate_sections() -> None:
    names = [name for name, _ in _SECTION.findall(SETTINGS_DOC.read_text())]
    assert len(names) == len(set(names))


def _check_ids_in_code() -> set[str]:
    ids: set[str] = set()
    for path in [*(ROOT / "flowmachine").rglob("*.py"), *(ROOT / "backends").rglob("*.py")]:
        ids.update(re.findall(r"flowmachine\.[EW]\d{3}", path.read_text()))
    return ids


def test_every_system_check_is_listed_in_concepts() -> None:
    page = CONCEPTS_DOC.read_text()
    listed = set(re.findall(r"^\| `(flowmachine\.[EW]\d{3})` \|", page, re.M))
    in_code = _check_ids_in_code()
    assert in_code, "no check ids found in the code: the pattern is wrong"
    assert not in_code - listed, f"check ids missing from the table in docs/concepts.md: {sorted(in_code - listed)}"
    assert not listed - in_code, f"docs/concepts.md lists check ids the code never reports: {sorted(listed - in_code)}"
