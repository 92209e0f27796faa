"""The demo checkout, built from small Actions grouped into Scaffolds.

Purchase (Linear)
  ChooseItem
  GetUserAccount: LoginOrRegister | Register | ForgotPassword
    ForgotPassword (Linear): EnterEmail -> EnterCode -> ResetPassword
  ChoosePayment: SavedMethod | NewPaymentMethod
    NewPaymentMethod: CardNumber | BankAccount | PayPal
      BankAccount (Linear): BankDetails -> AccountAddress
  Confirm

Every step keeps what later steps need in ``self.state`` (the task's state),
never in the session, so two tabs running two purchases do not mix.
"""

from __future__ import annotations

import re
import secrets

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm, UserCreationForm
from django.core.mail import send_mail
from django.utils.crypto import constant_time_compare, salted_hmac

from flowmachine import Action, Scaffold, COMPLETE, Linear, FlowHandler
from flowmachine.preconditions import RequiredState, LoginRequired

from shop.models import Order, Product

RESET_CODE_ATTEMPTS = 5


class Step(Action):
    """A page of the checkout: the shared template, an intro line, optional links."""

    _abstract = True
    template_name = "shop/step.html"
    #: A sentence shown above the form.
    intro = ""
    #: The label of the form's button.
    submit_label = "Continue"

    def get_links(self) -> list[tuple[str, str]]:
        """(label, url) pairs shown under the form, e.g. ``link_to`` jumps."""
        return []

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["links"] = self.get_links()
        if "product_id" in self.state:
            context["product"] = Product.objects.filter(pk=self.state["product_id"]).first()
        return context


# -- Do you want to buy this? ---------------------------------------------------


class ItemForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.all(), empty_label=None, widget=forms.RadioSelect, label="Product"
    )


class ChooseItem(Step):
    url = "item/"
    title = "Choose a product"
    form_class = ItemForm

    def get_initial(self):
        initial = super().get_initial()
        # The home page's "Buy" links pass ?product=<pk> to the entry URL.
        if "product" not in initial and self.request.GET.get("product", "").isdigit():
            initial["product"] = int(self.request.GET["product"])
        return initial

    def form_valid(self, form):
        self.state["product_id"] = form.cleaned_data["product"].pk
        return COMPLETE


# -- Tell us who you are ----------------------------------------------------------


class LoginOrRegister(Step):
    url = "login/"
    title = "Log in"

    def get_form_class(self):
        if self.request.user.is_authenticated:
            return forms.Form  # nothing to ask: just confirm who is buying
        return AuthenticationForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if not self.request.user.is_authenticated:
            kwargs["request"] = self.request
        return kwargs

    @property
    def intro(self):
        if self.request.user.is_authenticated:
            return f"You are logged in as {self.request.user.get_username()}."
        return "Log in to your account, or create one."

    @property
    def submit_label(self):
        if self.request.user.is_authenticated:
            return f"Continue as {self.request.user.get_username()}"
        return "Log in"

    def get_links(self):
        if self.request.user.is_authenticated:
            return []
        return [
            ("Create an account", self.link_to(Register)),
            ("Forgot your password?", self.link_to("ForgotPassword")),
        ]

    def form_valid(self, form):
        if not self.request.user.is_authenticated:
            login(self.request, form.get_user())
        return COMPLETE


class RegisterForm(UserCreationForm):
    email = forms.EmailField(help_text="We send password-reset codes here.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class Register(Step):
    url = "register/"
    title = "Create an account"
    form_class = RegisterForm
    submit_label = "Create account"

    def get_links(self):
        return [("I already have an account", self.link_to(LoginOrRegister))]

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return COMPLETE


def _code_digest(code: str) -> str:
    return salted_hmac("shop.reset-code", code, algorithm="sha256").hexdigest()


class EmailForm(forms.Form):
    email = forms.EmailField(label="Email address")


class EnterEmail(Step):
    url = "email/"
    title = "Your email address"
    form_class = EmailForm
    intro = "We will email you a code to reset your password."
    submit_label = "Send the code"

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        code = f"{secrets.randbelow(10**6):06d}"
        # The same answer whether or not an account uses the address, so the
        # form does not tell strangers who has an account here.
        self.state["reset_email"] = email
        self.state["reset_digest"] = _code_digest(code)
        self.state["reset_attempts"] = 0
        if get_user_model().objects.filter(email__iexact=email, is_active=True).exists():
            send_mail(
                "Your password reset code",
                f"Your code is {code}. Enter it on the checkout page to set a new password.",
                None,
                [email],
            )
        return COMPLETE


class CodeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=6, widget=forms.TextInput(attrs={"inputmode": "numeric"}))


class EnterCode(Step):
    url = "code/"
    title = "Confirmation code"
    form_class = CodeForm
    preconditions = [RequiredState("reset_email", "reset_digest")]

    @property
    def intro(self):
        return f"If an account uses {self.state['reset_email']}, we sent it a six-digit code."

    def form_valid(self, form):
        self.state["reset_attempts"] = self.state.get("reset_attempts", 0) + 1
        if self.state["reset_attempts"] > RESET_CODE_ATTEMPTS:
            return self.send_to(EnterEmail, with_errors=["Too many wrong codes. Ask for a new one."])
        user = get_user_model().objects.filter(email__iexact=self.state["reset_email"], is_active=True).first()
        if user is None or not constant_time_compare(_code_digest(form.cleaned_data["code"]), self.state["reset_digest"]):
            form.add_error("code", "That code is not right.")
            return self.form_invalid(form)
        self.state["reset_user_id"] = user.pk
        del self.state["reset_digest"]
        return COMPLETE


class ResetPassword(Step):
    url = "password/"
    title = "New password"
    form_class = SetPasswordForm
    preconditions = [RequiredState("reset_user_id")]
    submit_label = "Set password and log in"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = get_user_model().objects.get(pk=self.state["reset_user_id"])
        return kwargs

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        for key in ("reset_email", "reset_attempts", "reset_user_id"):
            self.state.pop(key, None)
        return COMPLETE


class ForgotPassword(Scaffold):
    url = "forgot/"
    transition = Linear
    action_set = [EnterEmail, EnterCode, ResetPassword]


class GetUserAccount(Scaffold):
    url = "account/"
    action_set = [LoginOrRegister, Register, "ForgotPassword"]


# -- Choose how to pay ------------------------------------------------------------


NEW_METHOD = "new"


class SavedMethodForm(forms.Form):
    method = forms.ChoiceField(widget=forms.RadioSelect, label="Pay with")

    def __init__(self, *args, saved=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(label, label) for label in saved]
        self.fields["method"].choices = [*choices, (NEW_METHOD, "A new payment method")]
        self.fields["method"].initial = choices[0][0] if choices else NEW_METHOD


class SavedMethod(Step):
    url = "saved/"
    title = "How to pay"
    form_class = SavedMethodForm
    preconditions = [LoginRequired()]
    intro = "Pay the way you paid last time, or add a new method."

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        labels = Order.objects.filter(user=self.request.user).values_list("payment", flat=True)
        kwargs["saved"] = list(dict.fromkeys(labels))[:5]  # most recent first, no repeats
        return kwargs

    def form_valid(self, form):
        method = form.cleaned_data["method"]
        if method == NEW_METHOD:
            return NewPaymentMethod
        self.state["payment"] = method
        return COMPLETE


class OtherMethods(Step):
    """A payment step with links to the other kinds of payment method."""

    _abstract = True
    others: tuple[tuple[str, str], ...] = ()

    def get_links(self):
        return [(label, self.link_to(target)) for label, target in self.others]


def _luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class CardForm(forms.Form):
    # A password input, so the number is neither shown again nor kept in the
    # task's remembered answers; only its last four digits reach the state.
    number = forms.CharField(
        label="Card number",
        widget=forms.PasswordInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
        help_text="Try 4242 4242 4242 4242.",
    )

    def clean_number(self):
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
            raise forms.ValidationError("That is not a valid card number.")
        return number


class CardNumber(OtherMethods):
    url = "card/"
    title = "Card"
    form_class = CardForm
    others = (("Pay from a bank account", "BankAccount"), ("Pay with PayPal", "PayPal"))

    def form_valid(self, form):
        self.state["payment"] = f"Card ending {form.cleaned_data['number'][-4:]}"
        return COMPLETE


class BankForm(forms.Form):
    holder = forms.CharField(label="Account holder", max_length=100)
    iban = forms.CharField(label="IBAN", max_length=42, help_text="Try GB82 WEST 1234 5698 7654 32.")

    def clean_iban(self):
        iban = re.sub(r"\s", "", self.cleaned_data["iban"]).upper()
        if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
            raise forms.ValidationError("That is not a valid IBAN.")
        return iban


class BankDetails(OtherMethods):
    url = "details/"
    title = "Bank account"
    form_class = BankForm
    others = (("Pay by card", "CardNumber"), ("Pay with PayPal", "PayPal"))

    def form_valid(self, form):
        self.state["bank_holder"] = form.cleaned_data["holder"]
        self.state["bank_iban_end"] = form.cleaned_data["iban"][-4:]
        return COMPLETE


class AddressForm(forms.Form):
    street = forms.CharField(max_length=200)
    postcode = forms.CharField(max_length=20)
    city = forms.CharField(max_length=100)


class AccountAddress(Step):
    url = "address/"
    title = "Account address"
    form_class = AddressForm
    preconditions = [RequiredState("bank_holder", "bank_iban_end")]
    intro = "The address your bank has for this account."

    def form_valid(self, form):
        self.state["payment"] = f"Bank account ending {self.state['bank_iban_end']}"
        return COMPLETE


class BankAccount(Scaffold):
    url = "bank/"
    transition = Linear
    action_set = [BankDetails, AccountAddress]


class PayPalForm(forms.Form):
    email = forms.EmailField(label="PayPal email address")


class PayPal(OtherMethods):
    url = "paypal/"
    title = "PayPal"
    form_class = PayPalForm
    others = (("Pay by card", "CardNumber"), ("Pay from a bank account", "BankAccount"))

    def get_initial(self):
        initial = super().get_initial()
        initial.setdefault("email", self.request.user.email)
        return initial

    def form_valid(self, form):
        self.state["payment"] = f"PayPal ({form.cleaned_data['email']})"
        return COMPLETE


class NewPaymentMethod(Scaffold):
    url = "new/"
    action_set = [CardNumber, BankAccount, PayPal]


class ChoosePayment(Scaffold):
    url = "pay/"
    action_set = [SavedMethod, NewPaymentMethod]


# -- Confirm everything -------------------------------------------------------------


class Confirm(Step):
    url = "confirm/"
    title = "Confirm and pay"
    template_name = "shop/confirm.html"
    preconditions = [LoginRequired(), RequiredState("product_id", "payment")]

    @property
    def submit_label(self):
        product = Product.objects.filter(pk=self.state["product_id"]).first()
        return f"Pay €{product.price}" if product else "Pay"

    def form_valid(self, form):
        product = Product.objects.filter(pk=self.state["product_id"]).first()
        if product is None:
            return self.send_to(ChooseItem, with_errors=["That product is no longer sold. Please choose another."])
        Order.objects.create(
            user=self.request.user,
            product=product,
            price=product.price,
            payment=self.state["payment"],
            task_id=self.task.id,
        )
        return COMPLETE


class Purchase(Scaffold):
    transition = Linear
    action_set = [ChooseItem, GetUserAccount, ChoosePayment, Confirm]


handler = FlowHandler(app_namespace="checkout", on_complete_url="/done/")
handler.register_entry_point(Purchase)
