"""The three forms of the sign-up, shared by the wizard and the flow."""

from django import forms


class NameForm(forms.Form):
    name = forms.CharField(max_length=100)


class ContactForm(forms.Form):
    email = forms.EmailField()


class PlanForm(forms.Form):
    plan = forms.ChoiceField(choices=[("free", "Free"), ("pro", "Pro")])
