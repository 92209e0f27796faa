"""The page both versions end on: what was collected."""

from django.shortcuts import render


def done(request):
    return render(request, "signup/done.html", {"signup": request.session.get("signup", {})})
