"""The admin of the database store: a read-only list of tasks, the decoded record, the diagram, expiry."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from flowmachine.backends import get_store
from flowmachine.models import TaskRecord
from tests.survey_flows import AGE, COLOUR
from tests.walker import Walker

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.survey_flows")]

LIST = "/admin/flowmachine/taskrecord/"


def walk(client, *answers: str) -> Walker:
    walker = Walker(client, "/survey/").start()
    for value in answers:
        walker.post({"answer": value})
    return walker


@pytest.fixture
def tasks(client, django_user_model):
    """Three tasks: one of a logged-in user at the age question, one anonymous at colour, one finished."""
    user = django_user_model.objects.create_user("bob", password="pw")
    client.force_login(user)
    mine = walk(client, "Bob")
    client.logout()
    anonymous = walk(client, "Ann", "40")
    finished = walk(client, "Cy", "30", "red")
    return {"user": user, "mine": mine.task_id, "anonymous": anonymous.task_id, "finished": finished.task_id}


def test_the_list_shows_flow_position_status_and_user(admin_client, tasks):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for task_id in (tasks["mine"], tasks["anonymous"], tasks["finished"]):
        assert f"{task_id[:8]}…" in html
    assert AGE in html and COLOUR in html
    row = TaskRecord.objects.get(task_id=tasks["mine"])
    assert (row.flow, row.position, row.user_id) == ("Survey", AGE, str(tasks["user"].pk))
    assert TaskRecord.objects.get(task_id=tasks["anonymous"]).user_id == ""
    assert TaskRecord.objects.get(task_id=tasks["finished"]).position == ""


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("status=live", ["mine", "anonymous"], ["finished"]),
        ("status=finished", ["finished"], ["mine", "anonymous"]),
        (f"position={AGE}", ["mine"], ["anonymous", "finished"]),
        ("flow=Survey", ["mine", "anonymous", "finished"], []),
    ],
)
def test_filters(admin_client, tasks, query, shown, hidden):
    html = admin_client.get(f"{LIST}?{query}").content.decode()
    for key in shown:
        assert f"{tasks[key][:8]}…" in html, key
    for key in hidden:
        assert f"{tasks[key][:8]}…" not in html, key


def test_the_task_page_shows_the_decoded_record_and_the_diagram(admin_client, tasks):
    response = admin_client.get(f"{LIST}{tasks['anonymous']}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    record = re.search(r'<pre class="flowmachine-record">(.*?)</pre>', html, re.S).group(1)
    assert "&quot;AskName&quot;: &quot;Ann&quot;" in record  # pretty JSON, escaped
    assert f"&quot;pos&quot;: &quot;{COLOUR}&quot;" in record
    pytest.importorskip("pygraphviz")
    diagram = re.search(r'<div class="flowmachine-diagram">(.*?)</div>', html, re.S).group(1)
    assert "<svg" in diagram
    assert "#fbbf24" in diagram  # the current step's highlight colour


def test_nothing_can_be_added_changed_or_deleted(admin_client, tasks):
    assert admin_client.get(f"{LIST}add/").status_code == 403
    assert admin_client.post(f"{LIST}{tasks['mine']}/delete/").status_code == 403
    html = admin_client.get(f"{LIST}{tasks['mine']}/change/").content.decode()
    assert 'name="_save"' not in html


def test_the_expire_action_expires_the_selected_tasks_for_the_store_and_cleanup(admin_client, tasks):
    response = admin_client.post(LIST, {"action": "expire_tasks", "_selected_action": [tasks["mine"]]}, follow=True)
    assert "1 task(s) expired." in response.content.decode()
    row = TaskRecord.objects.get(task_id=tasks["mine"])
    assert row.accessed < timezone.now() - timezone.timedelta(seconds=1200)
    assert TaskRecord.objects.get(task_id=tasks["anonymous"]).accessed > row.accessed
    html = admin_client.get(f"{LIST}?status=expired").content.decode()
    assert f"{tasks['mine'][:8]}…" in html
    assert get_store().get_state(tasks["mine"]) is None
    call_command("cleanupflows", stdout=StringIO())
    assert set(TaskRecord.objects.values_list("task_id", flat=True)) == {tasks["anonymous"], tasks["finished"]}


def test_staff_without_the_delete_permission_may_look_but_not_expire(client, django_user_model, tasks):
    staff = django_user_model.objects.create_user("eve", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_taskrecord"))
    client.force_login(staff)
    html = client.get(LIST).content.decode()
    assert f"{tasks['mine'][:8]}…" in html
    assert "expire_tasks" not in html
