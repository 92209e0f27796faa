"""The checkout tree of django-flows, used across the test suite.

Do you want to buy this? -> who are you (log in | register | forgot password:
email -> code -> new password) -> how to pay (a saved method | a new one:
card | bank account then its address | PayPal) -> confirm and pay.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, get_user_model, login
from django.http import HttpResponse

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.preconditions import LoginRequired, RequiredState
from tests.models import Order

TEMPLATE = "shop/step.html"


class Step(Action):
    template_name = TEMPLATE
    _abstract = True


class ItemForm(forms.Form):
    item = forms.ChoiceField(choices=[("book", "Book"), ("lamp", "Lamp"), ("mug", "Mug")])


class ChooseItem(Step):
    url = "item/"
    form_class = ItemForm

    def form_valid(self, form):
        self.state["item"] = form.cleaned_data["item"]
        return COMPLETE


class LoginForm(forms.Form):
    username = forms.CharField(required=False)
    password = forms.CharField(required=False, widget=forms.PasswordInput)
    choice = forms.ChoiceField(
        choices=[("login", "Log in"), ("register", "Register"), ("forgot", "Forgot")], initial="login"
    )

    def clean(self):
        data = super().clean()
        if data.get("choice") == "login":
            self.user = authenticate(username=data.get("username"), password=data.get("password"))
            if self.user is None:
                raise forms.ValidationError("Wrong username or password.")
        return data


class LoginOrRegister(Step):
    url = "login/"
    form_class = LoginForm

    def form_valid(self, form):
        choice = form.cleaned_data["choice"]
        if choice == "register":
            return Register
        if choice == "forgot":
            return "ForgotPassword"
        login(self.request, form.user)
        self.state["user"] = form.user.username
        return COMPLETE


class RegisterForm(forms.Form):
    username = forms.CharField()
    password = forms.CharField(widget=forms.PasswordInput)


class Register(Step):
    url = "register/"
    form_class = RegisterForm

    def form_valid(self, form):
        user = get_user_model().objects.create_user(**form.cleaned_data)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        self.state["user"] = user.username
        return COMPLETE


class EmailForm(forms.Form):
    email = forms.EmailField()


class EnterEmail(Step):
    form_class = EmailForm

    def form_valid(self, form):
        user = get_user_model().objects.filter(email=form.cleaned_data["email"]).first()
        if user is None:
            return self.send_to(LoginOrRegister, with_errors=["No account uses that email address."])
        self.state["reset_user"] = user.username
        self.state["code"] = "123456"
        return COMPLETE


class CodeForm(forms.Form):
    code = forms.CharField()


class EnterCode(Step):
    form_class = CodeForm
    preconditions = [RequiredState("reset_user", "code")]

    def form_valid(self, form):
        if form.cleaned_data["code"] != self.state["code"]:
            form.add_error("code", "That code is not right.")
            return self.form_invalid(form)
        return COMPLETE


class NewPasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput)


class ResetPassword(Step):
    form_class = NewPasswordForm

    def form_valid(self, form):
        user = get_user_model().objects.get(username=self.state.pop("reset_user"))
        user.set_password(form.cleaned_data["password"])
        user.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        self.state["user"] = user.username
        del self.state["code"]
        return COMPLETE


class ForgotPassword(Scaffold):
    url = "forgot/"
    transition = Linear
    action_set = [EnterEmail, EnterCode, ResetPassword]


class GetUserAccount(Scaffold):
    url = "account/"
    action_set = [LoginOrRegister, Register, "ForgotPassword"]


class SavedForm(forms.Form):
    method = forms.ChoiceField(choices=[("saved", "My saved card"), ("new", "A new method")])


class SavedMethod(Step):
    url = "saved/"
    form_class = SavedForm
    preconditions = [LoginRequired()]

    def form_valid(self, form):
        if form.cleaned_data["method"] == "new":
            return NewPaymentMethod
        self.state["payment"] = "saved"
        return COMPLETE


class CardForm(forms.Form):
    number = forms.CharField(max_length=19)


class CardNumber(Step):
    url = "card/"
    form_class = CardForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["links"] = {"bank": self.link_to("BankAccount"), "paypal": self.link_to(PayPal)}
        return context

    def form_valid(self, form):
        self.state["payment"] = "card:" + form.cleaned_data["number"][-4:]
        return COMPLETE


class BankForm(forms.Form):
    iban = forms.CharField()


class BankDetails(Step):
    url = "details/"
    form_class = BankForm

    def form_valid(self, form):
        self.state["iban"] = form.cleaned_data["iban"]
        return COMPLETE


class AddressForm(forms.Form):
    street = forms.CharField()


class AccountAddress(Step):
    url = "address/"
    form_class = AddressForm

    def form_valid(self, form):
        self.state["payment"] = f"bank:{self.state['iban']}:{form.cleaned_data['street']}"
        return COMPLETE


class BankAccount(Scaffold):
    url = "bank/"
    transition = Linear
    action_set = [BankDetails, AccountAddress]


class PayPal(Step):
    url = "paypal/"

    def form_valid(self, form):
        self.state["payment"] = "paypal"
        return COMPLETE


class NewPaymentMethod(Scaffold):
    url = "new/"
    action_set = [CardNumber, BankAccount, PayPal]


class ChoosePayment(Scaffold):
    url = "pay/"
    action_set = [SavedMethod, NewPaymentMethod]


class Confirm(Step):
    url = "confirm/"
    preconditions = [RequiredState("item", "payment")]

    def form_valid(self, form):
        Order.objects.create(item=self.state["item"], payment=self.state["payment"], task_id=self.task.id)
        return COMPLETE


class Purchase(Scaffold):
    transition = Linear
    action_set = [ChooseItem, GetUserAccount, ChoosePayment, Confirm]


handler = FlowHandler(app_namespace="shop", on_complete_url="/done/")
handler.register_entry_point(Purchase)


# A second handler without a namespace, with a flow whose first action sits at
# the entry URL and whose last action answers with its own response.
class Hello(Step):
    url = ""


class Bye(Step):
    url = "bye/"

    def form_valid(self, form):
        self.state["said"] = "bye"
        return HttpResponse("said bye")


class Greeting(Scaffold):
    url = "greet/"
    transition = Linear
    action_set = [Hello, Bye]


plain_handler = FlowHandler(on_complete_url="/plain-done/")
plain_handler.register_entry_point(Greeting)


# A flow whose URLs carry a path converter from the entry on.
class PickSize(Step):
    url = "size/"

    def form_valid(self, form):
        self.state["product"] = self.kwargs["product_id"]
        return COMPLETE


class CheckSize(Step):
    url = "check/"


class ProductFlow(Scaffold):
    url = "product/<int:product_id>/"
    transition = Linear
    action_set = [PickSize, CheckSize]


plain_handler.register_entry_point(ProductFlow)

# The same checkout served a second time, under another namespace and store.
second_handler = FlowHandler(app_namespace="again", on_complete_url="/done-again/")
second_handler.register_entry_point(Purchase)
