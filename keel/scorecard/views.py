"""The scorecard page, the monthly review and their export.

All three read `?month=YYYY-MM` (last month by default: the month a team reviews) and
`?team=ID` or `?person=ID` for a team's or a person's figures, which only those allowed
may open (access.can_view_scope); anyone signed in sees the company's.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify

from keel.accounts.models import Team, User
from keel.core.export import Cell, export_format, export_response
from keel.core.replica import reads_from_replica
from keel.scorecard import charts, rules
from keel.scorecard.access import can_view_scope
from keel.scorecard.selectors import (
    COMPANY,
    ROW_FIGURES,
    Scope,
    Scorecard,
    ScorecardRow,
    behind_pace,
    by_person,
    funnel_steps,
    moved_most,
    scope_choices,
    scorecard,
    trend,
)


@dataclass(frozen=True)
class Request:
    """What a scorecard page was asked for, checked."""

    user: User
    month: date
    scope: Scope
    error: str

    def query(self, **changes: object) -> str:
        """This request's query string with `changes` (None drops a key)."""
        params: dict[str, object] = {"month": f"{self.month:%Y-%m}"}
        if self.scope.team is not None:
            params["team"] = self.scope.team.pk
        if self.scope.person is not None:
            params["person"] = self.scope.person.pk
        params.update(changes)
        return urlencode({k: v for k, v in params.items() if v is not None})


def _id(query: QueryDict, name: str) -> int | None:
    text = query.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Http404(f"No such {name}.")
    return int(text)


def _read(request: HttpRequest) -> Request:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required guarantees it
    query = request.GET
    error = ""
    month = rules.previous_month(rules.month_start(timezone.localdate()))
    if query.get("month"):
        try:
            month = rules.month_parse(query["month"])
        except ValueError as problem:
            error = str(problem)
    scope, mixed = scope_asked(user=user, query=query, what="figures")
    return Request(user=user, month=month, scope=scope, error=error or mixed)


def scope_asked(*, user: User, query: QueryDict, what: str) -> tuple[Scope, str]:
    """Whose `what` a page was asked for (`?team=ID`, `?person=ID`, or the menu's
    `?who=team:ID`), checked: Http404 for no such team or person, PermissionDenied for
    one `user` may not see; with both asked, the company and a message saying so."""
    team_id, person_id = _id(query, "team"), _id(query, "person")
    kind, _, number = query.get("who", "").partition(":")
    if kind in ("team", "person") and number.isdigit():
        team_id, person_id = (int(number), None) if kind == "team" else (None, int(number))
    scope, problem = COMPANY, ""
    if team_id is not None and person_id is not None:
        problem = "Choose a team or a person, not both: showing the company."
    elif team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise Http404("No such team.")
        scope = Scope(team=team)
    elif person_id is not None:
        person = User.objects.filter(pk=person_id).select_related("team").first()
        if person is None:
            raise Http404("No such person.")
        scope = Scope(person=person)
    if not can_view_scope(user, team=scope.team, person=scope.person):
        raise PermissionDenied(
            f"You may not see {scope.label}'s {what}: only the people concerned, "
            "those who manage them and the owner may."
        )
    return scope, problem


def _context(asked: Request, card: Scorecard) -> dict[str, object]:
    teams, people = scope_choices(asked.user)
    month, before = asked.month, rules.previous_month(asked.month)
    named = {
        "this_month": f"{month:%b %Y}",
        "last_month": f"{before:%b %Y}",
        "last_year": f"{month.replace(year=month.year - 1):%b %Y}",
    }
    return {
        "asked": asked,
        "card": card,
        "headings": [named.get(name, heading) for name, heading in ROW_FIGURES.items()],
        "before": before,
        "after": rules.next_month(month),
        "teams": teams,
        "people": people,
        "previous": asked.query(month=f"{rules.previous_month(asked.month):%Y-%m}"),
        "next": asked.query(month=f"{rules.next_month(asked.month):%Y-%m}"),
        "export": asked.query(),
        "paces": {pace: sum(1 for r in card.rows() if r.pace == pace) for pace in rules.Pace},
    }


def _chosen(card: Scorecard, key: str) -> ScorecardRow | None:
    """The row the charts follow: the one asked for, else bookings, else the first."""
    rows = list(card.rows())
    for wanted in (key, "bookings"):
        for row in rows:
            if row.key == wanted:
                return row
    return rows[0] if rows else None


@login_required
@reads_from_replica
def scorecard_page(request: HttpRequest) -> HttpResponse:
    asked = _read(request)
    card = scorecard(month=asked.month, scope=asked.scope)
    context = _context(asked, card)
    steps = funnel_steps(card)
    context["steps"] = steps
    context["funnel_chart"] = charts.funnel_chart(steps)
    chosen = _chosen(card, request.GET.get("metric", ""))
    context["chosen"] = chosen
    if chosen is not None:
        months = trend(through=asked.month, months=12, keys=[chosen.key], scope=asked.scope)
        context["ytd_chart"] = charts.ytd_chart(
            name=chosen.name,
            unit=chosen.unit,
            key=chosen.key,
            months={m: f for m, f in months.items() if m.year == asked.month.year},
            goal=card.goals.get(chosen.key),
        )
        context["trend_chart"] = charts.trend_chart(name=chosen.name, key=chosen.key, months=months)
        context["metric_query"] = asked.query(metric=None)
    return render(request, "scorecard/scorecard.html", context)


@login_required
@reads_from_replica
def review_page(request: HttpRequest) -> HttpResponse:
    """The monthly review for the team meeting: what moved, what is behind, every figure."""
    asked = _read(request)
    card = scorecard(month=asked.month, scope=asked.scope)
    context: dict[str, object] = _context(asked, card)
    context["moved"] = moved_most(card)
    behind = behind_pace(card)
    context["behind"] = behind
    columns = [r for r in behind if r.key in rules.COMPUTED_KEYS]
    context["people_columns"] = columns
    context["people_rows"] = _people_behind(asked, columns)
    return render(request, "scorecard/review.html", context)


@dataclass(frozen=True)
class PersonCell:
    value: Decimal | None
    unit: str
    share: Decimal | None  # of the scope's year to date, in %, for what adds up


@dataclass(frozen=True)
class PersonRow:
    person: User
    cells: list[PersonCell]


def _people_behind(asked: Request, computed: list[ScorecardRow]) -> list[PersonRow]:
    """Who holds what of the computed metrics behind pace, year to date: the people
    `asked.user` may see, each figure with its share of the scope's when it adds up."""
    if not computed:
        return []
    january = date(asked.month.year, 1, 1)
    found = by_person(
        first=january, last=asked.month, keys=[r.key for r in computed], scope=asked.scope
    )
    rows = []
    for entry in found:
        if not can_view_scope(asked.user, person=entry.person):
            continue
        cells = []
        for row in computed:
            value = entry.figures.get(row.key)
            adds_up = rules.accumulates(key=row.key, unit=row.unit)
            share = (
                (value * 100 / row.ytd).quantize(Decimal("0.1"))
                if adds_up and value is not None and row.ytd
                else None
            )
            cells.append(PersonCell(value=value, unit=row.unit, share=share))
        rows.append(PersonRow(person=entry.person, cells=cells))
    return rows


EXPORT_HEADINGS = ["Step", "Metric", "Unit", *ROW_FIGURES.values(), "Pace"]


def _export_row(row: ScorecardRow) -> list[Cell]:
    figures: list[Cell] = [getattr(row, name) for name in ROW_FIGURES]
    return [row.stage.title(), row.name, row.unit, *figures, row.pace.label]


@login_required
@reads_from_replica
def scorecard_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The month's scorecard as CSV or XLSX: a row per metric, the figures as numbers."""
    file_format = export_format(fmt)
    if file_format is None:
        raise Http404("Export as csv or xlsx.")
    asked = _read(request)
    card = scorecard(month=asked.month, scope=asked.scope)
    scope = "" if asked.scope == COMPANY else "-" + slugify(asked.scope.label)
    return export_response(
        fmt=file_format,
        name=f"scorecard-{asked.month:%Y-%m}{scope}",
        headers=EXPORT_HEADINGS,
        rows=(_export_row(row) for row in card.rows()),
    )
