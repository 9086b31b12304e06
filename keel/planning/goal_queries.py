"""The figures of goals no scorecard metric measures, counted over Keel's records.

Each reads the deals closed from a goal's first day to the end of a day (in the
business's time zone), in one query.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from keel.crm.models import Tier
from keel.pipeline.models import Deal, DealStatus
from keel.planning.models import GoalQuery


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.get_default_timezone())


def goal_query_value(*, query: str, first: date, last: date) -> Decimal:
    """The query's figure over the days `first` to `last`, both included."""
    won = Deal.objects.filter(
        status=DealStatus.WON,
        company__tier=Tier.WHALE,
        closed_at__gte=_moment(first),
        closed_at__lt=_moment(last + timedelta(days=1)),
    )
    if query == GoalQuery.WHALES_WON:
        # A whale won: its first won deal ever falls in the span (a customer already
        # before the goal began is not won again).
        earlier = Deal.objects.filter(
            Q(closed_at__lt=OuterRef("closed_at"))
            | Q(closed_at=OuterRef("closed_at"), pk__lt=OuterRef("pk")),
            company=OuterRef("company"),
            status=DealStatus.WON,
        )
        found = won.filter(~Exists(earlier)).aggregate(n=Count("company", distinct=True))
        return Decimal(found["n"])
    if query == GoalQuery.WHALE_BOOKINGS:
        booked = won.filter(currency=settings.KEEL_CURRENCY).aggregate(total=Sum("amount"))
        return Decimal(booked["total"] or 0)
    raise ValueError(f"{query!r} is not a goal query ({', '.join(GoalQuery.values)}).")
