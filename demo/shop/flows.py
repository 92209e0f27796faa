"""The demo checkout, built from small Actions grouped into Scaffolds.

Purchase (Linear)
  ChooseItem
  GetUserAccount: LoginOrRegister | Register | ForgotPassword
    ForgotPassword (Linear): EnterEmail -> EnterCode -> ResetPassword
  ChoosePayment: PaymentChoice | CardNumber | BankAccount | PayPal
    PaymentChoice: a saved method (listed only if the buyer has one) or a new
    card, bank account or PayPal, each of which is a sibling it jumps to
    BankAccount (Linear): BankDetails -> AccountAddress
  Confirm (check your answers, each with a Change link)

A finished checkout goes to the page of the order it made (``order_page``:
``/done/<order>/``, shown to its buyer only). Every checkout URL carries the
product (``carry_query``), so "Start again" keeps it.

Every step keeps what later steps need in ``self.state`` (the task's state),
never in the session, so two tabs running two purchases do not mix. When the
buyer goes back and takes another branch (another way to pay, say), the
library removes what the branch left behind wrote, so the summary and the
order only ever use the branch actually taken.

The summary is the library's: :meth:`Confirm.summary` lists the path taken,
each step's answers (as each step's ``summary_rows`` shows them) and a Change
link that comes back to the summary once the change is made.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import (
    AuthenticationForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from flowmachine import COMPLETE, Action, AnswerRow, FlowHandler, Linear, Scaffold
from flowmachine.preconditions import LoginRequired, RequiredState
from shop.models import Order, Product, SavedPaymentMethod
from shop.views import PAYPAL_SALT

#: A product id as the home page's "Buy" links pass it: ASCII digits, no more than nine.
PRODUCT_ID = re.compile(r"[1-9][0-9]{0,8}")

RESET_CODE_ATTEMPTS = 5
#: The state keys each payment branch fills in; the summary needs all of one branch.
PAYMENT_KEYS: dict[str, tuple[str, ...]] = {
    "saved": ("saved_method_id", "saved_label"),
    "card": ("card_last4", "card_expiry"),
    "bank": ("bank_holder", "bank_iban_end", "bank_address"),
    "paypal": ("paypal_email",),
}
PAYMENT_NAMES = {"saved": "A saved method", "card": "New card", "bank": "New bank account", "paypal": "PayPal"}


def choose_payment_kind(state: dict[str, Any], kind: str) -> None:
    """Record the payment branch taken and drop every answer of the other branches.

    The library already removes what a branch left behind wrote once the path
    moves on; this also covers a branch switched within one page's answers.
    """
    if state.get("pay_kind") != kind:
        state.pop("save_method", None)
    state["pay_kind"] = kind
    for other, keys in PAYMENT_KEYS.items():
        if other != kind:
            for key in keys:
                state.pop(key, None)
    if kind != "paypal":
        state.pop("paypal_nonce", None)


RESET_KEYS = ("reset_email", "reset_digest", "reset_attempts", "reset_user_id")


def drop_reset(state: dict[str, Any]) -> None:
    """Forget a password reset that was started and then left for another way in."""
    for key in RESET_KEYS:
        state.pop(key, None)


def summary_ready(state: dict[str, Any]) -> bool:
    """Whether the state holds every answer the Confirm page shows."""
    kind = state.get("pay_kind")
    return (
        "product_id" in state
        and "account" in state
        and "reset_email" not in state  # a password reset under way
        and kind in PAYMENT_KEYS
        and all(key in state for key in PAYMENT_KEYS[kind])
    )


def payment_label(state: dict[str, Any]) -> str:
    """How the order names its payment: never more of a card or account than its last digits."""
    kind = state["pay_kind"]
    if kind == "saved":
        return str(state["saved_label"])
    if kind == "card":
        return f"Card ending {state['card_last4']} (expires {state['card_expiry']})"
    if kind == "bank":
        return f"Bank account ending {state['bank_iban_end']} ({state['bank_holder']})"
    return f"PayPal ({state['paypal_email']})"


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
        links = self.get_links()
        if self.return_url:  # opened from a Change link of the summary
            links.append(("Back to the summary without changing", self.return_url))
        context["links"] = links
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
        wanted = self.request.GET.get("product", "")
        if "product" not in initial and PRODUCT_ID.fullmatch(wanted):  # ASCII digits, a sane length
            initial["product"] = int(wanted)
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["product"] = None  # the form itself shows what is being bought
        return context

    def form_valid(self, form):
        self.state["product_id"] = form.cleaned_data["product"].pk
        return COMPLETE

    def summary_rows(self):
        product = Product.objects.filter(pk=self.state.get("product_id")).first()
        return [AnswerRow("product", "Product", f"{product.name} (€{product.price})" if product else "—")]


class BuyerRows:
    """The summary's rows for the step that signed the buyer in: who, and how (no Change link:
    to buy as someone else, log out)."""

    changeable = False
    #: How this step signed the buyer in, as the summary says it.
    signed_in_by = ""

    def summary_rows(self):
        user = self.request.user
        buyer = f"{user.get_username()} ({user.email})" if user.email else user.get_username()
        return [AnswerRow("buyer", "Buyer", buyer), AnswerRow("account", "Signed in by", self.signed_in_by)]


# -- Tell us who you are ----------------------------------------------------------


class LoginOrRegister(BuyerRows, Step):
    url = "login/"
    title = "Log in"
    signed_in_by = "Logged in"

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
        if self.request.user.is_authenticated:
            self.state.setdefault("account", "login")  # keep how this buyer signed in earlier
        else:
            login(self.request, form.get_user())
            self.state["account"] = "login"
        drop_reset(self.state)
        return COMPLETE


class RegisterForm(UserCreationForm):
    email = forms.EmailField(help_text="We send password-reset codes here.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class Register(BuyerRows, Step):
    url = "register/"
    title = "Create an account"
    signed_in_by = "Created a new account"
    form_class = RegisterForm
    submit_label = "Create account"

    def get_links(self):
        return [("I already have an account", self.link_to(LoginOrRegister))]

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        self.state["account"] = "register"
        drop_reset(self.state)
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

    def summary_rows(self):
        return []  # the reset's outcome shows as the buyer's row (ResetPassword)

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
    #: A code works once: the back button goes to the email page (ask for a new code), not here.
    skip_on_back = True
    #: In DEBUG the page links to the dev mailbox, where the code arrives.
    mailbox_hint = True

    def summary_rows(self):
        return []

    @property
    def intro(self):
        return f"If an account uses {self.state['reset_email']}, we sent it a six-digit code."

    def form_valid(self, form):
        self.state["reset_attempts"] = self.state.get("reset_attempts", 0) + 1
        if self.state["reset_attempts"] > RESET_CODE_ATTEMPTS:
            return self.send_to(EnterEmail, with_errors=["Too many wrong codes. Ask for a new one."])
        user = get_user_model().objects.filter(email__iexact=self.state["reset_email"], is_active=True).first()
        if user is None or not constant_time_compare(
            _code_digest(form.cleaned_data["code"]), self.state["reset_digest"]
        ):
            form.add_error("code", "That code is not right.")
            return self.form_invalid(form)
        self.state["reset_user_id"] = user.pk
        del self.state["reset_digest"]
        return COMPLETE


class ResetPassword(BuyerRows, Step):
    url = "password/"
    title = "New password"
    signed_in_by = "Reset the password by email code"
    form_class = SetPasswordForm
    preconditions = [RequiredState("reset_user_id")]
    #: Once the password is set, the reset is over: the back button skips this page.
    skip_on_back = True
    submit_label = "Set password and log in"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = get_user_model().objects.get(pk=self.state["reset_user_id"])
        return kwargs

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        self.state["account"] = "reset"
        drop_reset(self.state)
        return COMPLETE


class ForgotPassword(Scaffold):
    url = "forgot/"
    transition = Linear
    action_set = [EnterEmail, EnterCode, ResetPassword]


class GetUserAccount(Scaffold):
    url = "account/"
    action_set = [LoginOrRegister, Register, "ForgotPassword"]


# -- Choose how to pay ------------------------------------------------------------


class PaymentChoiceForm(forms.Form):
    method = forms.ChoiceField(widget=forms.RadioSelect, label="Pay with")

    def __init__(self, *args, saved=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(f"saved:{method.pk}", f"{method.label} (saved)") for method in saved]
        choices += [("card", "A new card"), ("bank", "A bank account"), ("paypal", "PayPal")]
        self.fields["method"].choices = choices


class PaymentChoice(Step):
    url = "how/"
    title = "How to pay"
    form_class = PaymentChoiceForm

    @property
    def intro(self):
        if self.saved_methods():
            return "Pay with a method you saved, or a new one."
        return "Choose how you would like to pay."

    def summary_rows(self):
        rows = [AnswerRow("method", "Pay with", PAYMENT_NAMES.get(self.state.get("pay_kind"), ""))]
        if self.state.get("pay_kind") == "saved":
            rows.append(AnswerRow("saved", "Saved method", self.state["saved_label"]))
        return rows

    def saved_methods(self) -> list[SavedPaymentMethod]:
        if not hasattr(self, "_saved"):
            self._saved = list(SavedPaymentMethod.objects.filter(user=self.request.user)[:5])
        return self._saved

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["saved"] = self.saved_methods()
        return kwargs

    def get_initial(self):
        # What the state says was chosen last (a link on a payment page may
        # have switched branch since this form was answered).
        initial = super().get_initial()
        kind = self.state.get("pay_kind")
        if kind == "saved":
            initial["method"] = f"saved:{self.state.get('saved_method_id')}"
        elif kind:
            initial["method"] = kind
        elif self.saved_methods():
            initial["method"] = f"saved:{self.saved_methods()[0].pk}"
        return initial

    def form_valid(self, form):
        method = form.cleaned_data["method"]
        if method.startswith("saved:"):
            saved = next(m for m in self.saved_methods() if f"saved:{m.pk}" == method)
            choose_payment_kind(self.state, "saved")
            self.state["saved_method_id"] = saved.pk
            self.state["saved_label"] = saved.label
            return COMPLETE
        if self.state.get("pay_kind") != method:
            choose_payment_kind(self.state, method)
        return {"card": CardNumber, "bank": BankAccount, "paypal": PayPal}[method]


class NewMethodStep(Step):
    """A page of a new payment method: links to the other kinds and the "save it" box."""

    _abstract = True
    #: Which payment branch this page belongs to.
    kind = ""
    others: tuple[tuple[str, str], ...] = ()

    def get_links(self):
        return [(label, self.link_to(target)) for label, target in self.others]

    def payment_rows(self) -> list[AnswerRow]:
        """This method's rows in the summary, before "Save for next time"."""
        return []

    def summary_rows(self):
        saved = "Yes" if self.state.get("save_method") else "No"
        return [*self.payment_rows(), AnswerRow("save", "Save for next time", saved)]


class SaveMethodMixin(forms.Form):
    save = forms.BooleanField(required=False, label="Save this payment method for next time")


def _luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class CardForm(SaveMethodMixin):
    # An ordinary input: CardNumber marks it sensitive, so the number is neither shown
    # again, kept in the remembered answers nor in error reports; only its last four
    # digits reach the state.
    number = forms.CharField(
        label="Card number",
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
        help_text="Try 4242 4242 4242 4242.",
    )
    expiry = forms.CharField(
        label="Expiry date (MM/YY)", max_length=7, widget=forms.TextInput(attrs={"autocomplete": "cc-exp"})
    )
    field_order = ["number", "expiry", "save"]

    def clean_number(self):
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
            raise forms.ValidationError("That is not a valid card number: check the digits.")
        return number

    def clean_expiry(self):
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry date as MM/YY, for example 12/30.")
        month, year = int(match[1]), int(match[2][-2:]) + 2000
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        if year > today.year + 20:
            raise forms.ValidationError("That expiry date is too far ahead.")
        return f"{month:02d}/{year % 100:02d}"


class CardNumber(NewMethodStep):
    url = "card/"
    title = "Card"
    kind = "card"
    form_class = CardForm
    sensitive_fields = ("number",)
    others = (("Pay from a bank account instead", "BankAccount"), ("Pay with PayPal instead", "PayPal"))

    def payment_rows(self):
        return [
            AnswerRow("number", "Card number", f"•••• {self.state.get('card_last4', '')}", sensitive=True),
            AnswerRow("expiry", "Expiry date", self.state.get("card_expiry", "")),
        ]

    def form_valid(self, form):
        choose_payment_kind(self.state, "card")
        self.state["card_last4"] = form.cleaned_data["number"][-4:]
        self.state["card_expiry"] = form.cleaned_data["expiry"]
        self.state["save_method"] = form.cleaned_data["save"]
        return COMPLETE


class BankForm(SaveMethodMixin):
    holder = forms.CharField(label="Account holder", max_length=100)
    iban = forms.CharField(label="IBAN", max_length=42, help_text="Try GB82 WEST 1234 5698 7654 32.")
    field_order = ["holder", "iban", "save"]

    def clean_iban(self):
        iban = re.sub(r"\s", "", self.cleaned_data["iban"]).upper()
        if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
            raise forms.ValidationError("That is not a valid IBAN.")
        # ISO 13616 check digits: move the first four characters to the end, letters to numbers, mod 97.
        digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
        if int(digits) % 97 != 1:
            raise forms.ValidationError("That IBAN's check digits are wrong: check for a typo.")
        return iban


class BankDetails(NewMethodStep):
    url = "details/"
    title = "Bank account"
    kind = "bank"
    form_class = BankForm
    #: Only the IBAN's last four characters are kept (in the state, for the summary).
    sensitive_fields = ("iban",)
    others = (("Pay by card instead", "CardNumber"), ("Pay with PayPal instead", "PayPal"))

    def payment_rows(self):
        return [
            AnswerRow("holder", "Account holder", self.state.get("bank_holder", "")),
            AnswerRow("iban", "IBAN", f"•••• {self.state.get('bank_iban_end', '')}", sensitive=True),
        ]

    def form_valid(self, form):
        choose_payment_kind(self.state, "bank")
        self.state["bank_holder"] = form.cleaned_data["holder"]
        self.state["bank_iban_end"] = form.cleaned_data["iban"][-4:]
        self.state["save_method"] = form.cleaned_data["save"]
        return COMPLETE


class AddressForm(forms.Form):
    street = forms.CharField(max_length=200)
    postcode = forms.CharField(max_length=20)
    city = forms.CharField(max_length=100)


class AccountAddress(NewMethodStep):
    url = "address/"
    title = "Account address"
    kind = "bank"
    form_class = AddressForm
    preconditions = [RequiredState("bank_holder", "bank_iban_end")]
    intro = "The address your bank has for this account."

    def summary_rows(self):
        return [AnswerRow("address", "Account address", self.state.get("bank_address", ""))]

    def form_valid(self, form):
        data = form.cleaned_data
        self.state["bank_address"] = f"{data['street']}, {data['postcode']} {data['city']}"
        return COMPLETE


class BankAccount(Scaffold):
    url = "bank/"
    transition = Linear
    action_set = [BankDetails, AccountAddress]


class PayPalForm(SaveMethodMixin):
    pass


class PayPal(NewMethodStep):
    """Hands off to (simulated) PayPal, which sends the buyer back here, into the same task."""

    url = "paypal/"
    title = "PayPal"
    kind = "paypal"
    form_class = PayPalForm
    submit_label = "Continue to PayPal"
    intro = "You will approve the payment on PayPal's site, then come straight back here."
    others = (("Pay by card instead", "CardNumber"), ("Pay from a bank account instead", "BankAccount"))

    def payment_rows(self):
        return [AnswerRow("paypal", "PayPal account", self.state.get("paypal_email", ""))]

    def get(self, request, *args, **kwargs):
        token = request.GET.get("paypal_token")
        if token:
            try:
                approval = signing.loads(token, salt=PAYPAL_SALT, max_age=15 * 60)
            except signing.BadSignature:
                approval = {}
            if approval.get("nonce") and constant_time_compare(approval["nonce"], self.state.get("paypal_nonce", "")):
                choose_payment_kind(self.state, "paypal")
                self.state.pop("paypal_nonce", None)
                self.state["paypal_email"] = approval["email"]
                return COMPLETE  # a GET may complete a step: this is the return from PayPal
            self.hand_off_error = "PayPal did not confirm this payment. Please try again."
        elif request.GET.get("paypal_cancelled"):
            # Not an error: the buyer chose to come back. Said as a notice, above the form.
            self.hand_off_notice = "You cancelled at PayPal: choose PayPal again or another way to pay."
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["notice"] = getattr(self, "hand_off_notice", "")
        return context

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if getattr(self, "hand_off_error", ""):
            # An unbound form has no cleaned_data for add_error(): set the error list itself.
            form.errors.setdefault(NON_FIELD_ERRORS, form.error_class(error_class="nonfield")).append(
                self.hand_off_error
            )
        return form

    def form_valid(self, form):
        nonce = secrets.token_urlsafe(16)
        self.state["paypal_nonce"] = nonce
        self.state["save_method"] = form.cleaned_data["save"]
        return_url = self.url_of()
        product = Product.objects.filter(pk=self.state.get("product_id")).first()
        query = {"nonce": nonce, "return": return_url, "email": self.request.user.email}
        if product is not None:
            query["amount"] = f"€{product.price}"
        return HttpResponseRedirect(f"{reverse('paypal_sandbox')}?{urlencode(query)}")


class ChoosePayment(Scaffold):
    url = "pay/"
    preconditions = [LoginRequired()]
    action_set = [PaymentChoice, CardNumber, BankAccount, PayPal]


# -- Confirm everything -------------------------------------------------------------


class ConfirmForm(forms.Form):
    pass


class Confirm(Step):
    """Check your answers (the library's summary of the path taken), then pay."""

    url = "confirm/"
    title = "Confirm and pay"
    template_name = "shop/confirm.html"
    form_class = ConfirmForm
    preconditions = [LoginRequired(), RequiredState("product_id", "pay_kind")]
    intro = "Check your answers. Change any of them, then pay."
    #: Before paying, every earlier answer is checked again (a product no longer sold, say).
    revalidate = True

    @property
    def product(self) -> Product | None:
        return Product.objects.filter(pk=self.state.get("product_id")).first()

    @property
    def submit_label(self):
        product = self.product
        return f"Confirm and pay €{product.price}" if product else "Confirm and pay"

    def form_valid(self, form):
        if not summary_ready(self.state):
            return self.send_to(ChoosePayment, with_errors=["Some payment details are missing: please choose again."])
        product = self.product
        kind = self.state["pay_kind"]
        label = payment_label(self.state)
        with transaction.atomic():
            # One order per task: the library refuses a second "Pay" on a
            # finished task, and the unique task_id makes sure of it.
            Order.objects.get_or_create(
                task_id=self.task.id,
                defaults={
                    "user": self.request.user,
                    "product": product,
                    "price": product.price,
                    "payment": label,
                    "payment_kind": kind,
                },
            )
            if kind != "saved" and self.state.get("save_method"):
                SavedPaymentMethod.objects.get_or_create(user=self.request.user, label=label, defaults={"kind": kind})
        return COMPLETE


class Purchase(Scaffold):
    noun = _("checkout")  # "This checkout has expired", not "this form"
    # Every checkout URL says which product it is for, so "Start again" on an expired
    # or ended checkout starts one for the same product (ChooseItem reads ?product=).
    carry_query = {"product": "product_id"}
    transition = Linear
    action_set = [ChooseItem, GetUserAccount, ChoosePayment, Confirm]


def order_page(request, task_id: str, state) -> str:
    """Where a finished checkout goes: the page of the order it made (one per task), else the orders."""
    order = Order.objects.filter(task_id=task_id).only("pk").first()
    return reverse("order_done", args=[order.pk]) if order is not None else reverse("done")


handler = FlowHandler(app_namespace="checkout", on_complete_url=order_page)
handler.register_entry_point(Purchase)
