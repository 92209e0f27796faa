from django.urls import include, path
from shop.flows import handler
from shop.views import done

urlpatterns = [
    # The flow's entry URL is /buy/ (named "shop:Purchase"); each step has its own URL
    # under it, named after its dotted place: "shop:Purchase.ChooseItem", ...
    path("buy/", include(handler.urls)),
    path("done/", done, name="done"),
]
