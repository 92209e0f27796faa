"""The page a finished claim lands on: its number, and the claimant's recent claims."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from claims.models import Claim


@login_required
def received(request):
    claims = list(Claim.objects.filter(user=request.user).prefetch_related("witnesses")[:5])
    return render(request, "claims/received.html", {"claim": claims[0] if claims else None, "claims": claims})
