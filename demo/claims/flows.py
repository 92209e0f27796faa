"""The demo's insurance claim: a branch, a list, a document, and a check-your-answers page.

InsuranceClaim (Linear, logged in)
  Incident         when it happened and what happened
  Injuries         Injured: "Was anyone injured?"; yes opens InjuryDetails, no skips it
  Witnesses        a formset: zero or more people who saw it
  Document         a photo or PDF of the damage (2 MB at most; its first bytes must say so)
  Review           every answer with a Change link, checked again, then the claim is created

The document is kept by assigning it: ``self.state["document"] = form.cleaned_data["document"]``.
The library keeps the upload in ``FLOWS_FILE_STORAGE`` (the demo's private "journeys" storage,
outside MEDIA_ROOT) until the journey ends; Review copies it into ``Claim.document``, and the
journey's copy is deleted once the claim is saved. Going back to Injured and answering "no"
removes what InjuryDetails wrote, so the claim never records an injury nobody had.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.models import Claim, Witness
from flowmachine import COMPLETE, Action, AnswerRow, FlowHandler, Linear, Scaffold
from flowmachine.preconditions import LoginRequired, RequiredState

#: The largest document accepted, in bytes.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

#: What a document's first bytes are, for each kind accepted: (prefix, kind).
SIGNATURES = (
    (b"%PDF-", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
)


def document_kind(upload: UploadedFile) -> str | None:
    """The kind of document *upload*'s content is (its first bytes, not the type the browser declared),
    or None for anything but an image or a PDF."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image"
    for prefix, kind in SIGNATURES:
        if head.startswith(prefix):
            return kind
    return None


class ClaimStep(Action):
    """A page of the claim: the claim's template, an intro line, a button label."""

    _abstract = True
    template_name = "claims/step.html"
    intro = ""
    submit_label = "Continue"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["links"] = [("Back to your answers without changing", self.return_url)] if self.return_url else []
        return context


# -- What happened -------------------------------------------------------------------


class IncidentForm(forms.Form):
    day = forms.DateField(
        label="Date of the incident",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    what = forms.CharField(label="What happened", max_length=2000, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError("The date of the incident cannot be in the future.")
        return day


class Incident(ClaimStep):
    url = "incident/"
    title = "What happened"
    form_class = IncidentForm
    intro = "Tell us when the damage happened and what happened."

    def form_valid(self, form):
        self.state["day"] = form.cleaned_data["day"]  # a date, read back as a date
        self.state["what"] = form.cleaned_data["what"]
        return COMPLETE


# -- Was anyone injured? (yes opens a branch) -----------------------------------------


class InjuredForm(forms.Form):
    injured = forms.ChoiceField(
        label="Was anyone injured?",
        choices=[("yes", "Yes, someone was hurt"), ("no", "No, nobody was hurt")],
        widget=forms.RadioSelect,
    )


class Injured(ClaimStep):
    url = "injured/"
    title = "Injuries"
    form_class = InjuredForm

    def form_valid(self, form):
        self.state["injured"] = form.cleaned_data["injured"] == "yes"
        # The scaffold has no transition: the action says where to go. COMPLETE leaves
        # Injuries, so InjuryDetails is skipped (and what it wrote before is removed).
        return InjuryDetails if self.state["injured"] else COMPLETE


class InjuryForm(forms.Form):
    person = forms.CharField(label="Who was injured", max_length=100)
    injury = forms.CharField(
        label="The injuries", max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


class InjuryDetails(ClaimStep):
    url = "injury/"
    title = "Injury details"
    form_class = InjuryForm
    intro = "Who was hurt, and how?"

    def form_valid(self, form):
        self.state["injured_person"] = form.cleaned_data["person"]
        self.state["injury"] = form.cleaned_data["injury"]
        return COMPLETE


class Injuries(Scaffold):
    url = "injuries/"
    action_set = [Injured, InjuryDetails]


# -- Witnesses (a formset: zero or more) -------------------------------------------------


class WitnessForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=100)
    phone = forms.CharField(label="Phone", max_length=30, required=False)


WitnessFormSet = forms.formset_factory(WitnessForm, extra=1, can_delete=True, max_num=10, absolute_max=20)


class Witnesses(ClaimStep):
    url = "witnesses/"
    title = "Witnesses"
    template_name = "claims/witnesses.html"
    form_class = WitnessFormSet
    intro = "Add anyone who saw what happened, or leave the list empty."

    def form_valid(self, form):  # form is the formset
        self.state["witnesses"] = [
            {"name": row["name"], "phone": row.get("phone", "")}
            for row in form.cleaned_data
            if row and not row.get("DELETE")
        ]
        return COMPLETE

    def summary_rows(self):
        witnesses = self.state.get("witnesses") or []
        if not witnesses:
            return [AnswerRow("witnesses", "Witnesses", "None")]
        return [
            AnswerRow(f"witness-{number}", f"Witness {number}", _witness_line(witness))
            for number, witness in enumerate(witnesses, 1)
        ]


def _witness_line(witness: dict[str, Any]) -> str:
    return f"{witness['name']} ({witness['phone']})" if witness.get("phone") else witness["name"]


# -- A photo or PDF of the damage ---------------------------------------------------------


class DocumentForm(forms.Form):
    document = forms.FileField(
        label="Photo or PDF",
        help_text=f"A JPEG, PNG, GIF or WebP photo, or a PDF, up to {filesizeformat(MAX_DOCUMENT_BYTES)}.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp,application/pdf"}),
    )

    def clean_document(self):
        document = self.cleaned_data["document"]
        if isinstance(document, UploadedFile):  # a new upload (else: the file kept from before)
            kind = document_kind(document)
            if kind is None:
                raise forms.ValidationError("This file is not a photo or a PDF: choose a JPEG, PNG, GIF, WebP or PDF.")
            self.document_kind = kind
        return document


class Document(ClaimStep):
    url = "document/"
    title = "Photo or PDF of the damage"
    form_class = DocumentForm
    intro = "We need one photo of the damage, or a PDF (a report, an invoice)."
    #: Refused with a form error above this (the library's FLOWS_MAX_UPLOAD_BYTES is 10 MiB).
    max_upload_bytes = MAX_DOCUMENT_BYTES

    def form_valid(self, form):
        # Assigning the upload keeps it (in the private "journeys" storage) until the journey ends.
        self.state["document"] = form.cleaned_data["document"]
        if hasattr(form, "document_kind"):
            self.state["document_kind"] = form.document_kind
        return COMPLETE

    def summary_rows(self):
        document = self.state.get("document")
        if document is None:
            return []
        return [AnswerRow("document", "Photo or PDF", f"{document.name} ({filesizeformat(document.size)})")]


# -- Check your answers, then the claim ------------------------------------------------------


class Review(ClaimStep):
    """Check your answers (each with a Change link), then create the claim."""

    url = "check/"
    title = "Check your answers"
    template_name = "claims/review.html"
    intro = "Check your answers. Change any of them, then send your claim."
    submit_label = "Send the claim"
    preconditions = [RequiredState("day", "what", "document")]
    #: Every earlier answer is checked again before the claim is made (a date now in the future...).
    revalidate = True

    def form_valid(self, form):
        state = self.state
        injured = bool(state.get("injured"))
        with transaction.atomic():
            # One claim per journey: a finished journey refuses a second "Send", and the
            # unique task_id makes sure of it.
            claim, created = Claim.objects.get_or_create(
                task_id=self.task.id,
                defaults={
                    "user": self.request.user,
                    "incident_date": state["day"],
                    "description": state["what"],
                    "injured": injured,
                    "injury": f"{state['injured_person']}: {state['injury']}" if injured else "",
                    # The kept file is a django File: saving the claim copies it into
                    # Claim.document's storage (MEDIA_ROOT/claims/).
                    "document": state["document"],
                    "document_name": state["document"].name,
                    "document_kind": state.get("document_kind", ""),
                },
            )
            if created:
                Witness.objects.bulk_create(
                    Witness(claim=claim, name=w["name"], phone=w.get("phone", "")) for w in state.get("witnesses", [])
                )
        return COMPLETE


class InsuranceClaim(Scaffold):
    noun = _("claim")  # "This claim has expired", not "this form"
    transition = Linear
    preconditions = [LoginRequired()]
    action_set = [Incident, Injuries, Witnesses, Document, Review]


handler = FlowHandler(app_namespace="claims", on_complete_url="/claim-received/")
handler.register_entry_point(InsuranceClaim)
