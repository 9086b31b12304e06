from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from keel.accounts.models import User
from keel.pipeline.models import SalesProcess
from keel.web.board import board_response


@login_required
def pipeline(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    process = request.GET.get("process")
    if process and not (
        process.isdigit() and SalesProcess.objects.filter(pk=process, is_active=True).exists()
    ):
        raise Http404("No such sales process.")
    return board_response(request, user=request.user, query=request.GET)


@login_required
def today(request: HttpRequest) -> HttpResponse:
    return render(request, "web/base.html")
