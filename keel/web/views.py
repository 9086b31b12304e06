from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keel.accounts.models import User
from keel.pipeline.access import deals_visible_to
from keel.pipeline.models import SalesProcess
from keel.web.selectors import pipeline_board


@login_required
def pipeline(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    processes = list(SalesProcess.objects.filter(is_active=True).order_by("id"))
    chosen = request.GET.get("process")
    process = (
        get_object_or_404(SalesProcess, pk=chosen, is_active=True)
        if chosen and chosen.isdigit()
        else processes[0]
        if processes
        else None
    )
    board = (
        pipeline_board(process=process, deals=deals_visible_to(request.user)) if process else None
    )
    return render(
        request, "web/pipeline.html", {"board": board, "processes": processes, "process": process}
    )


@login_required
def today(request: HttpRequest) -> HttpResponse:
    return render(request, "web/base.html")
