"""The sign-up as a django-flowmachine flow: the same forms, one action per step."""

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.preconditions import RequiredState
from signup.forms import ContactForm, NameForm, PlanForm


class SignupStep(Action):
    _abstract = True  # not a step itself
    template_name = "signup/step.html"


class YourName(SignupStep):
    url = "name/"
    form_class = NameForm

    def form_valid(self, form):
        self.state["name"] = form.cleaned_data["name"]
        return COMPLETE


class YourContact(SignupStep):
    url = "contact/"
    form_class = ContactForm

    def form_valid(self, form):
        self.state["email"] = form.cleaned_data["email"]
        return COMPLETE


class ChoosePlan(SignupStep):
    url = "plan/"
    template_name = "signup/plan.html"  # this step's own template
    form_class = PlanForm
    preconditions = [RequiredState("name", "email")]

    def form_valid(self, form):
        self.state["plan"] = form.cleaned_data["plan"]
        self.request.session["signup"] = {key: self.state[key] for key in ("name", "email", "plan")}
        return COMPLETE


class Signup(Scaffold):
    transition = Linear  # the steps in action_set order, like form_list
    action_set = [YourName, YourContact, ChoosePlan]


handler = FlowHandler(app_namespace="signup", on_complete_url="/done/")
handler.register_entry_point(Signup)
