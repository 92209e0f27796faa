"""The tutorial (docs/tutorial.md) builds a working project, exactly as written.

The test reads the page in order and does what a reader would: runs its
``django-admin``/``manage.py`` commands in a fresh directory, writes each code
block whose first line names a file (``# shop/flows.py``, ``{# shop/templates/... #}``;
``(excerpt)`` blocks replace the named top-level assignments and append the
rest), and at each ``% tutorial-check: NAME`` comment runs this file's checks
for that stage as a Django test module inside the project. The last stage runs
the tutorial's own ``shop/tests.py``. Each stage runs in a subprocess, with the
project's own settings.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tutorial.md"

_TOKEN = re.compile(
    r"^```(?P<lang>[^\n]*)\n(?P<body>.*?)^```[ \t]*$|^% tutorial-check: (?P<check>\S+)[ \t]*$",
    re.M | re.S,
)
_PY_FILE = re.compile(r"^# (?P<path>[\w/.-]+\.py)(?P<excerpt> \(excerpt\))?$")
_TEMPLATE_FILE = re.compile(r"^\{# (?P<path>[\w/.-]+) #\}$")

STAGE_CHECKS = {
    "first-flow": """
from django.test import TestCase


class FirstFlow(TestCase):
    def test_walk(self):
        response = self.client.get("/buy/")
        self.assertEqual(response.status_code, 302)
        item_url = response["Location"]
        self.assertRegex(item_url, r"^/buy/item/\\?_t=[A-Za-z0-9_-]{32}$")
        page = self.client.get(item_url)
        self.assertContains(page, "Step 1 of 2")
        self.assertContains(page, 'name="_t"')
        self.assertContains(page, 'name="csrfmiddlewaretoken"')
        self.assertIsNone(page.context["flows_back_url"])
        response = self.client.post(item_url, {"item": "book"})
        confirm_url = response["Location"]
        self.assertRegex(confirm_url, r"^/buy/confirm/\\?_t=")
        page = self.client.get(confirm_url)
        self.assertContains(page, "Step 2 of 2")
        self.assertContains(page, "You are buying: book")
        self.assertEqual(page.context["flows_back_url"].split("?")[0], "/buy/item/")
        self.assertRedirects(self.client.post(confirm_url), "/thanks/")

    def test_on_complete_parameter(self):
        response = self.client.get("/buy/?_on_complete=/admin/")
        response = self.client.post(response["Location"], {"item": "mug"})
        response = self.client.post(response["Location"])
        self.assertEqual(response["Location"], "/admin/")

    def test_off_site_on_complete_is_ignored(self):
        response = self.client.get("/buy/?_on_complete=https://evil.example/")
        response = self.client.post(response["Location"], {"item": "mug"})
        self.assertEqual(self.client.post(response["Location"])["Location"], "/thanks/")

    def test_two_tabs_are_two_tasks(self):
        first = self.client.get("/buy/")["Location"]
        second = self.client.get("/buy/")["Location"]
        self.assertNotEqual(first, second)
        self.client.post(first, {"item": "book"})
        page = self.client.get(second)
        self.assertContains(page, "Step 1 of 2")

    def test_a_visited_step_rewinds_the_task(self):
        item_url = self.client.get("/buy/")["Location"]
        self.client.post(item_url, {"item": "lamp"})
        page = self.client.get(item_url)
        self.assertContains(page, "Step 1 of 2")
        self.assertEqual(page.context["form"].initial["item"], "lamp")

    def test_flow_entry_link(self):
        from django.test import RequestFactory
        from shop.flows import Purchase, handler

        request = RequestFactory().get("/")
        request.session = self.client.session
        url = handler.flow_entry_link(request, Purchase, on_complete_url="/orders/")
        self.assertRegex(url, r"^/buy/item/\\?_t=")
""",
    "checkout": """
import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import TestCase


class Checkout(TestCase):
    def to_login(self):
        response = self.client.get("/buy/")
        page = self.client.get(response["Location"])
        self.assertContains(page, "Step 1 of 4")
        response = self.client.post(response["Location"], {"item": "lamp"})
        self.assertRegex(response["Location"], r"^/buy/account/login/\\?_t=")
        return response["Location"]

    def test_forgot_password_steps_and_progress(self):
        get_user_model().objects.create_user("ada", "ada@example.com", "old")
        login_url = self.to_login()
        page = self.client.get(login_url)
        self.assertContains(page, "Step 2 of 4")
        labels = [label for label, _ in page.context["links"]]
        self.assertEqual(labels, ["Create an account", "Forgot your password?"])
        email_url = self.client.get(page.context["links"][1][1])["Location"]
        self.assertRegex(email_url, r"^/buy/account/forgot/email/\\?_t=")
        # Left by its link, the login page is not a step walked: the email page stands in for it.
        page = self.client.get(email_url)
        self.assertContains(page, "Step 2 of 6")
        self.assertEqual([step.title for step in page.context["flow"].progress.trail], ["Do you want to buy this?"])
        self.assertEqual(page.context["flows_back_url"], login_url)
        code_url = self.client.post(email_url, {"email": "ada@example.com"})["Location"]
        self.assertRegex(code_url, r"^/buy/account/forgot/code/\\?_t=")
        code = re.search(r"\\d{6}", mail.outbox[0].body).group()
        wrong = "000000" if code != "000000" else "111111"
        page = self.client.post(code_url, {"code": wrong})
        self.assertContains(page, "That code is not right.")
        password_url = self.client.post(code_url, {"code": code})["Location"]
        self.assertRegex(password_url, r"^/buy/account/forgot/password/\\?_t=")
        response = self.client.post(password_url, {"new_password1": "a new passphrase",
                                                    "new_password2": "a new passphrase"})
        self.assertRegex(response["Location"], r"^/buy/pay/\\?_t=")
        page = self.client.get(response["Location"])
        self.assertContains(page, "Step 5 of 6")
        trail = [(step.title, step.url is not None) for step in page.context["flow"].progress.trail]
        self.assertEqual(trail, [("Do you want to buy this?", True), ("Your email address", True),
                                 ("The code we sent you", False), ("Choose a new password", False)])

    def test_too_many_codes_sends_back_with_an_error(self):
        login_url = self.to_login()
        forgot = self.client.get(login_url).context["links"][1][1]
        email_url = self.client.get(forgot)["Location"]
        code_url = self.client.post(email_url, {"email": "nobody@example.com"})["Location"]
        self.assertEqual(mail.outbox, [])  # no account, no email, same answer
        for _ in range(5):
            self.assertEqual(self.client.post(code_url, {"code": "123456"}).status_code, 200)
        response = self.client.post(code_url, {"code": "123456"})
        self.assertEqual(response["Location"].split("?")[0], "/buy/account/forgot/email/")
        self.assertContains(self.client.get(response["Location"]), "Too many wrong codes")

    def test_register_link_and_back_to_login(self):
        login_url = self.to_login()
        register = self.client.get(self.client.get(login_url).context["links"][0][1])["Location"]
        self.assertRegex(register, r"^/buy/account/register/\\?_t=")
        back = self.client.get(self.client.get(register).context["links"][0][1])["Location"]
        self.assertEqual(back.split("?")[0], "/buy/account/login/")

    def test_logged_in_user_only_confirms_who_is_buying(self):
        user = get_user_model().objects.create_user("ada", "ada@example.com", "pw")
        self.client.force_login(user)
        login_url = self.to_login()
        page = self.client.get(login_url)
        self.assertEqual(page.context["links"], [])
        self.assertRegex(self.client.post(login_url)["Location"], r"^/buy/pay/")
""",
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _run_shell_block(body: str, project: Path) -> None:
    """Run the block's django-admin and manage.py commands (not pip, venv or runserver)."""
    for line in body.splitlines():
        words = line.split()
        if words[:1] == ["django-admin"]:
            _run([sys.executable, "-m", "django", *words[1:]], project)
        elif words[:2] == ["python", "manage.py"] and words[2:3] != ["runserver"]:
            _run([sys.executable, "manage.py", *words[2:]], project)


def _merge_excerpt(path: Path, excerpt: str) -> None:
    """Replace the file's top-level assignments named in *excerpt*; append its other statements."""
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    appended: list[str] = []
    replacements: list[tuple[int, int, str]] = []
    excerpt_lines = excerpt.splitlines(keepends=True)
    for node in ast.parse(excerpt).body:
        text = "".join(excerpt_lines[node.lineno - 1 : node.end_lineno])
        target = node.targets[0].id if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) else None
        existing = [
            old
            for old in tree.body
            if target
            and isinstance(old, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == target for t in old.targets)
        ]
        if existing:
            replacements.append((existing[0].lineno, existing[0].end_lineno or existing[0].lineno, text))
        else:
            appended.append(text)
    for start, end, text in sorted(replacements, reverse=True):
        lines[start - 1 : end] = [text]
    path.write_text("".join(lines) + "\n" + "".join(appended))


def _write_block(lang: str, body: str, project: Path) -> bool:
    first, _, rest = body.partition("\n")
    py = _PY_FILE.match(first) if lang.startswith("python") else None
    html = _TEMPLATE_FILE.match(first) if lang.startswith("html") else None
    if py:
        target = project / py["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if py["excerpt"]:
            _merge_excerpt(target, rest)
        else:
            target.write_text(body)
        return True
    if html:
        target = project / html["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
        return True
    return False


def _run_stage_check(name: str, project: Path) -> None:
    module = project / "shop" / f"test_stage_{name.replace('-', '_')}.py"
    if name in STAGE_CHECKS:
        module.write_text(STAGE_CHECKS[name])
        try:
            _run([sys.executable, "manage.py", "test", f"shop.{module.stem}", "-v", "1"], project)
        finally:
            module.unlink()
    else:
        assert name == "tests", f"no checks for tutorial stage {name!r}"


def tokens() -> list[re.Match[str]]:
    return list(_TOKEN.finditer(DOC.read_text()))


def test_the_tutorial_marks_its_files_and_stages() -> None:
    found = tokens()
    checks = [m["check"] for m in found if m["check"]]
    assert checks == ["first-flow", "checkout", "tests"]
    files = [m["body"].partition("\n")[0] for m in found if m["lang"] is not None and m["body"]]
    for expected in (
        "# shop/flows.py",
        "# shop/models.py",
        "# shop/tests.py",
        "# mysite/urls.py",
        "# mysite/settings.py (excerpt)",
        "{# shop/templates/shop/step.html #}",
    ):
        assert expected in files


@pytest.mark.slow
def test_the_tutorial_project_works(tmp_path: Path) -> None:
    project = tmp_path / "shop-tutorial"
    project.mkdir()
    written = 0
    ran_tests = False
    for match in tokens():
        if match["check"]:
            _run_stage_check(match["check"], project)
            continue
        lang = match["lang"].strip()
        body = match["body"]
        if lang == "sh":
            _run_shell_block(body, project)
            ran_tests = ran_tests or "manage.py test" in body
        elif _write_block(lang, body, project):
            written += 1
    assert written >= 8
    assert ran_tests
    # The final project passes Django's and flowmachine's checks in deploy-independent mode.
    out = _run([sys.executable, "manage.py", "check", "--fail-level", "WARNING"], project)
    assert "no issues" in out.stdout
