"""Answers belong to steps: a branch left behind leaves nothing, Change links come back to the summary,
and a journey is re-checked at its end."""

from __future__ import annotations

import datetime
import re
import types
import uuid

import pytest
from django import forms
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from tests.models import Order
from tests.walker import Walker

TEMPLATE = "claim/step.html"
#: The state the last step's form_valid saw, per test.
FINISHED: list[dict] = []


class ClaimStep(Action):
    _abstract = True
    template_name = TEMPLATE


class IncidentForm(forms.Form):
    what = forms.CharField(label="What happened")
    day = forms.DateField(label="When")
    order = forms.ModelChoiceField(queryset=Order.objects.all(), label="Order", required=False)


class Incident(ClaimStep):
    form_class = IncidentForm

    def form_valid(self, form):
        self.state.update(form.cleaned_data)
        return COMPLETE


class InjuredForm(forms.Form):
    injured = forms.ChoiceField(
        choices=[("yes", "Yes, someone was hurt"), ("no", "No one was hurt")], label="Was anyone injured?"
    )


class Injured(ClaimStep):
    form_class = InjuredForm

    def form_valid(self, form):
        self.state["injured"] = form.cleaned_data["injured"] == "yes"
        return InjuryDetails if self.state["injured"] else COMPLETE


class InjuryForm(forms.Form):
    injury = forms.CharField(label="Describe the injury")
    hospital = forms.CharField(label="Hospital", required=False)


class InjuryDetails(ClaimStep):
    form_class = InjuryForm
    keeps = ("hospital_seen",)

    def form_valid(self, form):
        self.state["injury"] = form.cleaned_data["injury"]
        self.state["hospital_seen"] = bool(form.cleaned_data["hospital"])
        return COMPLETE


class Injuries(Scaffold):
    action_set = [Injured, InjuryDetails]


class WitnessForm(forms.Form):
    witness = forms.CharField(label="Witness", required=False)
    phone = forms.CharField(label="Phone", required=False)


class Witnesses(ClaimStep):
    form_class = WitnessForm
    sensitive_fields = ("phone",)

    def form_valid(self, form):
        self.state["witness"] = form.cleaned_data["witness"]
        return COMPLETE


class Review(ClaimStep):
    revalidate = True

    def form_valid(self, form):
        FINISHED.append(dict(self.state))
        return COMPLETE


class Claim(Scaffold):
    transition = Linear
    action_set = [Incident, Injuries, Witnesses, Review]


@pytest.fixture(params=["db", "redis"])
def claim(request, settings):
    """The claim flow served at /claim/, on the database store or the Redis store."""
    if request.param == "redis":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
        settings.FLOWS_REDIS_URL = settings.REDIS_URL
        settings.FLOWS_REDIS_KEY_PREFIX = f"fm-path-{uuid.uuid4().hex[:8]}:"
    else:
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
    FINISHED.clear()
    with registry.isolated():
        handler = FlowHandler(app_namespace="claim", on_complete_url="/claimed/")
        handler.register_entry_point(Claim)
        urlconf = types.ModuleType("claim_urls")
        urlconf.urlpatterns = [path("claim/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


INCIDENT = {"what": "A shelf fell", "day": "2026-11-30"}


def to_review(client, *, injured: bool) -> Walker:
    walker = Walker(client, entry="/claim/").start()
    walker.post(INCIDENT)
    walker.post({"injured": "yes" if injured else "no"})
    if injured:
        assert walker.path.endswith("/injury-details/")
        walker.post({"injury": "A cut hand", "hospital": "St Mary's"})
    assert walker.path.endswith("/witnesses/")
    walker.post({"witness": "Ann", "phone": "0123 456"})
    assert walker.path.endswith("/review/")
    return walker


def page(walker: Walker) -> str:
    return walker.response.content.decode()


def href(html: str, pattern: str) -> str:
    match = re.search(pattern, html)
    assert match, pattern
    return match[1].replace("&amp;", "&")


def change_link(html: str, title: str) -> str:
    """The Change link of the summary's step titled *title*."""
    section = html[html.index(f"<h3>{title}</h3>") :]
    return href(section, r'class="flow-summary-change" href="([^"]+)"')


def back(walker: Walker, step: str) -> None:
    """GET an earlier step's URL, as the back button does."""
    url = walker.url.replace("/review/", step)
    walker.response = walker.get(url)
    walker.url = url


def follow(walker: Walker, url: str) -> None:
    """GET a link of the page: the step it opens is shown at that URL."""
    response = walker.client.get(url)
    assert response.status_code == 200, response
    walker.url, walker.response = url, response


@pytest.mark.django_db
def test_a_branch_left_by_the_back_button_leaves_nothing(client, claim):
    walker = to_review(client, injured=True)
    assert walker.flow.state["injury"] == "A cut hand"
    back(walker, "/injuries/injured/")  # the back button
    walker.post({"injured": "no"})
    assert walker.path.endswith("/witnesses/")  # the next step already answered: asked again
    walker.post({"witness": "Ann"})
    walker.post({})
    (state,) = FINISHED
    assert "injury" not in state
    assert state["hospital_seen"] is True  # InjuryDetails keeps it
    assert state["injured"] is False and state["witness"] == "Ann"


@pytest.mark.django_db
def test_the_removed_answers_are_gone_from_the_record_too(client, claim):
    walker = to_review(client, injured=True)
    back(walker, "/injuries/injured/")
    walker.post({"injured": "no"})
    record = walker.flow.record
    assert "Claim.Injuries.InjuryDetails" not in record["ans"]
    assert "injury" not in record["data"]
    assert [name.rsplit(".", 1)[-1] for name, _keys in record["stp"]][:3] == ["Incident", "Injured", "Witnesses"]


@pytest.mark.django_db
def test_the_summary_lists_the_path_taken_with_display_values(client, claim, settings):
    settings.LANGUAGE_CODE = "en-us"
    walker = to_review(client, injured=False)
    html = page(walker)
    assert [t for t in re.findall(r"<h3>([^<]+)</h3>", html)] == ["Incident", "Injured", "Witnesses"]
    assert "A shelf fell" in html and "Nov. 30, 2026" in html
    assert "No one was hurt" in html  # the choice's label, not its value
    assert "0123 456" not in html and "••••••" in html  # sensitive: masked
    assert "Describe the injury" not in html


@pytest.mark.django_db
def test_the_summary_speaks_the_active_language(client, claim, settings):
    settings.LANGUAGE_CODE = "de"
    walker = to_review(client, injured=False)
    html = page(walker)
    assert "30. November 2026" in html
    assert "Ändern" in html  # the Change link


@pytest.mark.django_db
def test_a_change_that_keeps_the_path_comes_straight_back_to_the_summary(client, claim):
    walker = to_review(client, injured=False)
    follow(walker, change_link(page(walker), "Incident"))
    assert walker.path.endswith("/incident/")
    walker.post({**INCIDENT, "what": "A shelf and a lamp fell"})
    assert walker.path.endswith("/review/")  # not Injured, not Witnesses again
    assert "A shelf and a lamp fell" in page(walker)
    assert walker.flow.state["witness"] == "Ann"
    trail = [name.rsplit(".", 1)[-1] for name in walker.flow.record["hist"]]
    assert trail == ["Incident", "Injured", "Witnesses"]  # the back trail is the path again


@pytest.mark.django_db
def test_a_change_that_closes_a_branch_comes_back_without_it(client, claim):
    walker = to_review(client, injured=True)
    follow(walker, change_link(page(walker), "Injured"))
    walker.post({"injured": "no"})
    assert walker.path.endswith("/review/")
    html = page(walker)
    assert "Describe the injury" not in html and "A cut hand" not in html
    walker.post({})
    assert "injury" not in FINISHED[0]


@pytest.mark.django_db
def test_a_change_that_opens_a_branch_asks_its_steps_then_comes_back(client, claim):
    walker = to_review(client, injured=False)
    follow(walker, change_link(page(walker), "Injured"))
    walker.post({"injured": "yes"})
    assert walker.path.endswith("/injury-details/")  # new answers are needed
    walker.post({"injury": "A bruise"})
    assert walker.path.endswith("/review/")  # then the summary, not Witnesses again
    assert "A bruise" in page(walker)
    assert [t for t in re.findall(r"<h3>([^<]+)</h3>", page(walker))] == [
        "Incident",
        "Injured",
        "Injury details",
        "Witnesses",
    ]


@pytest.mark.django_db
def test_the_changing_page_links_back_to_the_summary_changing_nothing(client, claim):
    walker = to_review(client, injured=True)
    before = walker.flow.state
    follow(walker, change_link(page(walker), "Injured"))
    assert "Back to your answers" in page(walker)
    follow(walker, href(page(walker), r'class="return" href="([^"]+)"'))
    assert walker.path.endswith("/review/")
    assert walker.flow.state == before
    assert "A cut hand" in page(walker)
    assert "Back to your answers" not in page(walker)


@pytest.mark.django_db
def test_revalidation_sends_the_user_to_the_first_step_that_no_longer_validates(client, claim):
    order = Order.objects.create(item="lamp", payment="card", task_id="x")
    walker = Walker(client, entry="/claim/").start()
    walker.post({**INCIDENT, "order": str(order.pk)})
    walker.post({"injured": "no"})
    walker.post({"witness": ""})
    order.delete()  # gone since the first step
    walker.post({})
    assert walker.path.endswith("/incident/")
    assert "Select a valid choice" in page(walker)
    assert FINISHED == []  # nothing of the last step ran
    walker.post(INCIDENT)
    assert walker.path.endswith("/review/")  # corrected: straight back to the step that revalidated
    walker.post({})
    assert len(FINISHED) == 1


@pytest.mark.django_db
def test_a_step_left_by_a_link_leaves_nothing(client, claim):
    walker = to_review(client, injured=True)
    back(walker, "/injuries/injured/")
    walker.post({"injured": "no"})
    walker.post({"witness": "Bob"})
    assert walker.path.endswith("/review/")
    assert "Injury details" not in page(walker)


def test_display_values():
    from flowmachine.summary import display_value

    assert display_value(forms.BooleanField(), True) == "Yes"
    assert (
        display_value(forms.MultipleChoiceField(choices=[("a", "Alpha"), ("b", "Beta")]), ["a", "b"]) == "Alpha, Beta"
    )
    grouped = forms.ChoiceField(choices=[("Fruit", [("p", "Pear")])])
    assert display_value(grouped, "p") == "Pear"
    assert display_value(forms.DateField(), datetime.date(2026, 12, 1)) == "Dec. 1, 2026"
    assert display_value(forms.CharField(), "") == ""


# -- a formset step in a summary and in revalidation -----------------------------------------------


class PersonForm(forms.Form):
    name = forms.CharField(label="Name")
    age = forms.IntegerField(label="Age", required=False)

    #: Ages no longer accepted (set by a test: a rule changed since the step was answered).
    refused: set = set()

    def clean_age(self):
        age = self.cleaned_data["age"]
        if age in self.refused:
            raise forms.ValidationError("We no longer cover this age.")
        return age


People = forms.formset_factory(PersonForm, extra=1)


class Travellers(ClaimStep):
    template_name = "shop/formset_step.html"
    form_class = People

    def form_valid(self, form):
        self.state["people"] = [row for row in form.cleaned_data if row]
        return COMPLETE


class Trip(Scaffold):
    transition = Linear
    action_set = [Travellers, Review]


@pytest.fixture
def trip(settings):
    FINISHED.clear()
    PersonForm.refused = set()
    with registry.isolated():
        handler = FlowHandler(app_namespace="trip", on_complete_url="/booked/")
        handler.register_entry_point(Trip)
        urlconf = types.ModuleType("trip_urls")
        urlconf.urlpatterns = [path("trip/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


def rows(*people: tuple[str, str]) -> dict[str, str]:
    data = {"form-TOTAL_FORMS": str(len(people)), "form-INITIAL_FORMS": "0"}
    for i, (name, age) in enumerate(people):
        data[f"form-{i}-name"], data[f"form-{i}-age"] = name, age
    return data


@pytest.mark.django_db
def test_a_formset_step_in_the_summary_has_a_line_per_row(client, trip):
    walker = Walker(client, entry="/trip/").start()
    walker.post(rows(("Ann", "34"), ("Bob", "")))
    html = page(walker)
    assert "<dt>1</dt>" in html and "Name: Ann; Age: 34" in html
    assert "<dt>2</dt>" in html and "Name: Bob" in html


@pytest.mark.django_db
def test_a_formset_step_with_no_rows_says_so(client, trip):
    walker = Walker(client, entry="/trip/").start()
    walker.post(rows())
    assert "<dd>None</dd>" in page(walker)


@pytest.mark.django_db
def test_revalidation_re_checks_a_formset_step(client, trip):
    walker = Walker(client, entry="/trip/").start()
    walker.post(rows(("Ann", "34"), ("Bob", "71")))
    PersonForm.refused = {71}
    walker.post({})
    assert walker.path.endswith("/travellers/")
    assert "2. We no longer cover this age." in page(walker)
    assert FINISHED == []
