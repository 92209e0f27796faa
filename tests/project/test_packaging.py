"""The wheel holds what users install, and the installed package works on its own.

``backends/`` sits at the top of the repository but is shipped as
``flowmachine.backends`` (see ``[tool.setuptools.package-dir]``); these tests
catch a wheel that drops it, ships it under the wrong name, leaks the
repository's other folders, or only works next to the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = [
    "flowmachine/__init__.py",
    "flowmachine/backends/__init__.py",
    "flowmachine/backends/base.py",
    "flowmachine/backends/db.py",
    "flowmachine/backends/redis.py",
    "flowmachine/backends/tmpfile.py",
    "flowmachine/migrations/0001_initial.py",
    "flowmachine/migrations/0002_taskrecord_columns_funnelcount.py",
    "flowmachine/templates/flowmachine/error.html",
    "flowmachine/templatetags/flowmachine.py",
    "flowmachine/management/commands/cleanupflows.py",
    "flowmachine/management/commands/flowstats.py",
    "flowmachine/contrib/__init__.py",
    "flowmachine/contrib/celery.py",
    "flowmachine/contrib/crispy.py",
    "flowmachine/admin.py",
    "flowmachine/signals.py",
    "flowmachine/py.typed",
    *(f"flowmachine/locale/{lang}/LC_MESSAGES/django.mo" for lang in ("de", "es", "fr", "nl", "pt_BR")),
    # Every module of the package, found in the source tree, so a new subpackage missing
    # from pyproject's list fails here.
    *sorted(str(f.relative_to(ROOT)) for f in (ROOT / "flowmachine").rglob("*.py") if "__pycache__" not in f.parts),
    *sorted(f"flowmachine/backends/{f.name}" for f in (ROOT / "backends").glob("*.py")),
]

#: What the sdist must hold besides the package: the source a packager builds and tests from.
SDIST_REQUIRED = [
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "MANIFEST.in",
    "backends/db.py",
    "flowmachine/py.typed",
    "flowmachine/migrations/0001_initial.py",
    "flowmachine/templates/flowmachine/error.html",
    "tests/settings.py",
    "tests/templates/shop/step.html",
    "docs/index.md",
    "examples/quickstart/shop/flows.py",
    "examples/from_formtools/signup/flows.py",
    "examples/from_formtools/signup/templates/signup/step.html",
]
SDIST_LEFT_OUT = ["demo/", "docs/_build/", ".venv/", ".git/", "test-artifacts/"]

#: Top-level folders of the repository that must never be shipped.
NOT_SHIPPED = ["backends/", "tests/", "demo/", "docs/", "examples/"]

# What is left out of the copy the wheel is built from: VCS data, local
# environments and build output (which would also race with parallel runs).
_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".tox",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    "*.sqlite3",
    "test-artifacts",
)

_IMPORT_CHECK = """
import json, importlib
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "flowmachine"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
)
django.setup()
from django.template.loader import get_template

files = {
    name: importlib.import_module(name).__file__
    for name in [
        "flowmachine",
        "flowmachine.backends",
        "flowmachine.backends.base",
        "flowmachine.backends.db",
        "flowmachine.backends.redis",
        "flowmachine.migrations.0001_initial",
        "flowmachine.contrib",
        "flowmachine.signals",
    ]
}
files["template"] = get_template("flowmachine/error.html").origin.name
print(json.dumps(files))
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` on a clean copy of the working tree: the sdist, then the wheel built from it."""
    source = tmp_path_factory.mktemp("source") / "django-flowmachine"
    shutil.copytree(ROOT, source, ignore=_IGNORE)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"building failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    wheels = list(dist.glob("django_flowmachine-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def sdist_names(dist: Path) -> list[str]:
    """The sdist's member names without the leading ``django_flowmachine-<version>/``."""
    sdists = list(dist.glob("django_flowmachine-*.tar.gz"))
    assert len(sdists) == 1, sdists
    with tarfile.open(sdists[0]) as archive:
        return [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]


@pytest.mark.parametrize("path", SDIST_REQUIRED)
def test_sdist_contains(sdist_names: list[str], path: str) -> None:
    assert path in sdist_names


@pytest.mark.parametrize("folder", SDIST_LEFT_OUT)
def test_sdist_leaves_out(sdist_names: list[str], folder: str) -> None:
    leaked = [name for name in sdist_names if name.startswith(folder)]
    assert not leaked, leaked


def test_sdist_has_no_bytecode(sdist_names: list[str]) -> None:
    assert not [name for name in sdist_names if "__pycache__" in name or name.endswith(".pyc")]


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.parametrize("path", REQUIRED)
def test_wheel_contains(wheel_names: list[str], path: str) -> None:
    assert path in wheel_names


@pytest.mark.parametrize("folder", NOT_SHIPPED)
def test_wheel_leaves_out(wheel_names: list[str], folder: str) -> None:
    leaked = [name for name in wheel_names if name.startswith(folder)]
    assert not leaked, leaked


def test_wheel_has_one_top_level_package(wheel_names: list[str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel_names}
    tops = {top for top in tops if not top.endswith(".dist-info")}
    assert tops == {"flowmachine"}


def test_installed_wheel_imports_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # Only the installed wheel and this environment's third-party packages:
    # -S skips site-packages' .pth files (the editable install's import hook),
    # and cwd is the target so no checkout folder is on sys.path.
    site_dirs = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(target), *site_dirs])
    result = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_CHECK],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout.strip().splitlines()[-1])
    resolved_target = target.resolve()
    for name, file in files.items():
        assert Path(file).resolve().is_relative_to(resolved_target), f"{name} was imported from {file}"


def test_the_version_is_the_same_in_pyproject_and_the_package() -> None:
    import re

    import flowmachine

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert declared is not None
    assert declared.group(1) == flowmachine.__version__
