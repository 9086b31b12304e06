"""Reads for the webhook pages, and the deal data a stage-change event carries."""

from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from keel.accounts.models import User
from keel.hooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from keel.pipeline.models import StageChange

DELIVERY_LOG_LIMIT = 100


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Every endpoint, with how many of its deliveries are failing or given up on."""
    return WebhookEndpoint.objects.select_related("created_by").annotate(
        failing=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.ABANDONED]),
        )
    )


def endpoint_deliveries(
    *, endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_LIMIT
) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return list(endpoint.deliveries.order_by("-created_at", "-id")[:limit])


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": str(user), "email": user.email}


def stage_change_data(*, change: StageChange) -> dict[str, Any]:
    """What a receiver learns about a deal's move, in JSON types: ids, names, an amount as
    a decimal string (never a float), aware UTC times in ISO 8601."""
    deal = change.deal
    base_url = settings.KEEL_BASE_URL
    return {
        "id": deal.pk,
        "name": deal.name,
        "company": {"id": deal.company_id, "name": deal.company.name},
        "owner": _person(deal.owner),
        "process": deal.process.name,
        "amount": None if deal.amount is None else f"{deal.amount:.2f}",
        "currency": deal.currency,
        "from_stage": change.from_stage.name if change.from_stage else None,
        "to_stage": change.to_stage.name,
        "status": deal.status,
        "lost_reason": change.lost_reason or None,
        "moved_by": _person(change.by),
        "moved_at": change.at.isoformat(),
        "stage_change_id": change.pk,
        "url": base_url + reverse("pipeline:deal_detail", args=[deal.pk]),
    }
