"""The sign-up as a django-formtools wizard: name, contact, plan."""

from django.shortcuts import redirect
from formtools.wizard.views import SessionWizardView

from signup.forms import ContactForm, NameForm, PlanForm

TEMPLATES = {
    "name": "signup/wizard_step.html",
    "contact": "signup/wizard_step.html",
    "plan": "signup/wizard_plan.html",
}


class SignupWizard(SessionWizardView):
    form_list = [("name", NameForm), ("contact", ContactForm), ("plan", PlanForm)]

    def get_template_names(self):
        return [TEMPLATES[self.steps.current]]

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        if self.steps.current == "plan":
            context["name"] = self.get_cleaned_data_for_step("name")["name"]
        return context

    def done(self, form_list, **kwargs):
        self.request.session["signup"] = self.get_all_cleaned_data()
        return redirect("signup-done")
