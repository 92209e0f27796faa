from django.urls import include, path

from signup.flows import handler
from signup.views import done
from signup.wizard import SignupWizard

urlpatterns = [
    path("wizard/", SignupWizard.as_view(), name="signup-wizard"),  # formtools
    path("signup/", include(handler.urls)),  # flowmachine: /signup/name/, /signup/contact/, ...
    path("done/", done, name="signup-done"),
]
