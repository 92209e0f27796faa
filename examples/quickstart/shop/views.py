from django.http import HttpResponse


def done(request):
    return HttpResponse("<h1>Thank you!</h1><p><a href='/buy/'>Buy something else</a></p>")
