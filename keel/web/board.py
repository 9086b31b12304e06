"""The pipeline board as a response: the whole page, or for htmx only the board itself.

Every action taken on the board (a move, a fix of missing evidence) answers with the board
re-rendered under the filters it was shown with, so the page updates in place.
"""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html_join

from keel.accounts.models import User
from keel.crm.models import Contact
from keel.forecast.stall_selectors import stall_thresholds
from keel.pipeline.access import can_edit_deal, deals_visible_to
from keel.pipeline.models import Deal, SalesProcess, StageKind
from keel.pipeline.rules import Unmet
from keel.web.forms import BoardFilterForm
from keel.web.http import is_htmx
from keel.web.selectors import Board, pipeline_board


@dataclass(frozen=True)
class Blocked:
    """A refused move, shown next to the card: what is missing and how to supply it."""

    deal: Deal
    to_stage: str
    message: str
    unmet: list[Unmet]
    contacts: list[Contact]


def blocked_for(*, deal: Deal, to_stage: str, message: str, unmet: list[Unmet]) -> Blocked:
    contacts = list(Contact.objects.filter(company_id=deal.company_id).order_by("last_name"))
    return Blocked(deal, to_stage, message, unmet, contacts)


def _menus_render(board: Board) -> None:
    """Each column's move menu, built once: per card it was a third of the board's time."""
    targets = [c.stage.name for c in board.columns]
    targets += [s.name for s in board.outcomes if s.kind == StageKind.WON]
    for column in board.columns:
        others = ((name,) for name in targets if name != column.stage.name)
        column.move_options = format_html_join("", "<option>{}</option>", others)


def board_response(
    request: HttpRequest,
    *,
    user: User,
    query: QueryDict,
    blocked: Blocked | None = None,
    error: str = "",
) -> HttpResponse:
    filters = BoardFilterForm(query)
    filters.is_valid()
    processes = list(SalesProcess.objects.filter(is_active=True).order_by("id"))
    process = filters.cleaned_data.get("process") or (processes[0] if processes else None)
    board = None
    now = timezone.now()
    if process is not None:
        board = pipeline_board(
            process=process,
            deals=filters.filter(deals_visible_to(user)),
            now=now,
            stalls=stall_thresholds(now=now),
        )
    cards = [card.deal for column in board.columns for card in column.cards] if board else []
    if board is not None:
        _menus_render(board)
    context = {
        "board": board,
        "processes": processes,
        "process": process,
        "filters": filters,
        "query": query.urlencode(),
        "editable": {card.pk for card in cards if can_edit_deal(user, card)},
        "blocked": blocked,
        "blocked_shown": blocked is not None and any(d.pk == blocked.deal.pk for d in cards),
        "now": now,
        "error": error,
    }
    template = "web/pipeline.html#board" if is_htmx(request) else "web/pipeline.html"
    return render(request, template, context)
