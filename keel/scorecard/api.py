"""The scorecard over the API: a month's scorecard, the metrics, a metric's monthly
values and its goals.

Another system (a web analytics tool, an accounting package) pushes a month's figure for
a metric captured by push, as the token's user: the metric's owner or a manager. Each
push is appended; the latest for a month and scope is the figure, the earlier ones its
history. Refusals are mapped once in keel/api/api.py: a bad input (a computed or
hand-entered metric, a month not begun, a value the unit does not allow) is 422 with its
problems, a person who may not is 403.
"""

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from ninja import Query, Router, Status

from keel.accounts.models import Team
from keel.api import lookups
from keel.api.auth import actor
from keel.api.pagination import Page, paginate
from keel.api.schemas import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from keel.core.exceptions import InvalidInput
from keel.scorecard import selectors
from keel.scorecard.access import ensure_can_view_scope, metric_visible, values_visible_to
from keel.scorecard.models import Goal, Metric, MetricStage, MetricValue
from keel.scorecard.schemas import (
    GoalIn,
    GoalOut,
    MetricFilters,
    MetricKey,
    MetricPage,
    Month,
    ScorecardFilters,
    ScorecardOut,
    ValueFilters,
    ValueIn,
    ValueOut,
    ValuePage,
    Year,
    month_date,
)
from keel.scorecard.selectors import COMPANY, Scope, metric_value_history
from keel.scorecard.services import goal_set, metric_value_push
from keel.web.lists import COUNT_CAP

scorecard = Router(tags=["scorecard"])

# The scorecard's order: funnel stage (Suspect first), position within it, name.
FUNNEL_ORDER = {"funnel": ("stage_rank", "position", "name")}


def _in_funnel_order(metrics: QuerySet[Metric]) -> QuerySet[Metric]:
    ranks = [When(stage=stage, then=Value(rank)) for rank, stage in enumerate(MetricStage)]
    return metrics.annotate(stage_rank=Case(*ranks, output_field=IntegerField()))


@scorecard.get("/metrics", response={200: MetricPage, **LIST_ERRORS})
def metric_list(request: HttpRequest, filters: Query[MetricFilters]) -> Page[Metric]:
    """Every metric, in the scorecard's order: everyone reads what is measured."""
    actor(request)
    rows = Metric.objects.select_related("owner")
    if filters.stage is not None:
        rows = rows.filter(stage=filters.stage)
    if filters.capture_method is not None:
        rows = rows.filter(capture_method=filters.capture_method)
    if filters.is_active is not None:
        rows = rows.filter(is_active=filters.is_active)
    return paginate(
        queryset=_in_funnel_order(rows),
        sorts=FUNNEL_ORDER,
        ordering="funnel",
        limit=filters.limit,
        offset=filters.offset,
    )


@scorecard.get("/metrics/{key}/values", response={200: ValuePage, **READ_ERRORS})
def value_list(
    request: HttpRequest, key: MetricKey, filters: Query[ValueFilters]
) -> Page[MetricValue]:
    """A metric's entries, newest month first: each month's current figure per scope and
    the entries it superseded (`current` false). Teams' and people's figures are listed
    to those who may read them."""
    user = actor(request)
    entries = values_visible_to(user, metric=metric_visible(key=key))
    if filters.month is not None:
        entries = entries.filter(month=month_date(filters.month))
    counted = entries.order_by()[: COUNT_CAP + 1].count()
    start, stop = filters.offset, filters.offset + filters.limit
    rows = list(metric_value_history(entries=entries)[start : stop + 1])
    return Page(
        count=min(counted, COUNT_CAP),
        next_offset=stop if len(rows) > filters.limit else None,
        items=rows[: filters.limit],
    )


def _scope(*, team_id: int | None, person_id: int | None) -> Scope:
    """The team or the person the ids name (neither: the company); refused if both."""
    if team_id is not None and person_id is not None:
        raise InvalidInput(
            "A figure is a team's or a person's, not both.",
            details=["team_id, person_id: give one of them, or neither for the company's"],
        )
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise InvalidInput(
                f"There is no team #{team_id}.", details=[f"team_id: no team #{team_id}"]
            )
        return Scope(team=team)
    if person_id is not None:
        return Scope(person=lookups.person(person_id, field="person_id"))
    return COMPANY


@scorecard.post("/metrics/{key}/values", response={201: ValueOut, **WRITE_ERRORS})
def value_push(request: HttpRequest, key: MetricKey, payload: ValueIn) -> Status[MetricValue]:
    """Push a month's figure for a metric captured by push (company-wide, or a team's or
    a person's). It supersedes the month's earlier figure for that scope."""
    user = actor(request)
    metric = metric_visible(key=key)
    scope = _scope(team_id=payload.team_id, person_id=payload.person_id)
    entry = metric_value_push(
        metric=metric,
        month=month_date(payload.month),
        value=payload.value,
        by=user,
        note=payload.note,
        team=scope.team,
        person=scope.person,
    )
    return Status(201, entry)


@scorecard.put("/metrics/{key}/goals/{year}", response={200: GoalOut, **WRITE_ERRORS})
def goal_put(request: HttpRequest, key: MetricKey, year: Year, payload: GoalIn) -> Goal:
    """Set or replace a metric's goal for a year: sales managers and the owner."""
    user = actor(request)
    return goal_set(
        metric=metric_visible(key=key),
        year=year,
        target=payload.target,
        phasing=payload.phasing,
        weights=list(payload.weights) if payload.weights is not None else None,
        by=user,
    )


@scorecard.get("/months/{month}", response={200: ScorecardOut, **READ_ERRORS})
def scorecard_read(
    request: HttpRequest, month: Month, filters: Query[ScorecardFilters]
) -> dict[str, object]:
    """The month's scorecard, as on the web page: the company's, a team's or a person's
    (to those who may read it). Figures are decimal strings; a missing one is null."""
    user = actor(request)
    scope = _scope(team_id=filters.team_id, person_id=filters.person_id)
    ensure_can_view_scope(user, team=scope.team, person=scope.person)
    card = selectors.scorecard(month=month_date(month), scope=scope)
    return {
        "month": month,
        "scope": {
            "label": scope.label,
            "team_id": scope.team.pk if scope.team else None,
            "person_id": scope.person.pk if scope.person else None,
        },
        "rows": list(card.rows()),
    }
