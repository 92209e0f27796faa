"""The quickstart checkout: choose an item, say how to receive it (shipping or pickup), confirm."""

from django import forms

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.preconditions import RequiredState


class ItemForm(forms.Form):
    item = forms.ChoiceField(choices=[("book", "A book"), ("lamp", "A lamp"), ("mug", "A mug")])


class AddressForm(forms.Form):
    address = forms.CharField(max_length=200)


class StoreForm(forms.Form):
    store = forms.ChoiceField(choices=[("north", "North store"), ("south", "South store")])


class Step(Action):
    """What every page of this flow shares: one template."""

    _abstract = True  # not a step itself
    template_name = "shop/step.html"


class ChooseItem(Step):
    url = "item/"  # the URL fragment under the flow's prefix: /buy/item/
    form_class = ItemForm

    def form_valid(self, form):
        self.state["item"] = form.cleaned_data["item"]
        return COMPLETE  # the parent scaffold's transition (Linear) decides what comes next


class Shipping(Step):
    url = "ship/"
    form_class = AddressForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["other_way"] = ("Collect it in a store instead", self.link_to(Pickup))
        return context

    def form_valid(self, form):
        self.state.update(receive="ship", address=form.cleaned_data["address"])
        return COMPLETE


class Pickup(Step):
    url = "pickup/"
    form_class = StoreForm

    def form_valid(self, form):
        self.state.update(receive="pickup", store=form.cleaned_data["store"])
        return COMPLETE


class HowToReceive(Scaffold):
    # transition = None (the default): the FIRST child (Shipping) is shown first; a link
    # (link_to) or a returned target jumps to a sibling; COMPLETE completes this scaffold.
    url = "receive/"
    action_set = [Shipping, Pickup]


class Confirm(Step):
    url = "confirm/"
    preconditions = [RequiredState("item", "receive")]

    def form_valid(self, form):
        # Save the order here (in the same transaction as the task's last save).
        return COMPLETE


class Purchase(Scaffold):
    transition = Linear  # next in action_set order
    action_set = [ChooseItem, HowToReceive, Confirm]


handler = FlowHandler(app_namespace="shop", on_complete_url="/done/")
handler.register_entry_point(Purchase)
