"""Bounded lists for the API: limit/offset, whitelisted orderings, paging on ids.

As the web lists (keel/web/lists.py): the page is cut on ids alone, then only its rows
are fetched with their joins, and the total is counted up to COUNT_CAP.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from ninja import Field, Schema

from keel.web.lists import COUNT_CAP

M = TypeVar("M", bound=Model)

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_OFFSET = 2**31 - 1


class ListParams(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page, 1–100.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip.")


@dataclass(frozen=True)
class Page(Generic[M]):
    count: int
    next_offset: int | None
    items: list[M]


def order_fields(sorts: Mapping[str, Sequence[str]], ordering: str) -> list[str]:
    """The order_by fields of `ordering` ("key" or "-key", key one of `sorts`), ids last."""
    key = ordering.removeprefix("-")
    fields = list(sorts[key])
    if ordering.startswith("-"):
        fields = [f[1:] if f.startswith("-") else f"-{f}" for f in fields]
    return [*fields, "-pk" if ordering.startswith("-") else "pk"]  # stable pages


def paginate(
    *,
    queryset: QuerySet[M],
    sorts: Mapping[str, Sequence[str]],
    ordering: str,
    limit: int,
    offset: int,
) -> Page[M]:
    ordered = queryset.order_by(*order_fields(sorts, ordering))
    ids: list[Any] = list(ordered.values_list("pk", flat=True)[offset : offset + limit + 1])
    more = len(ids) > limit
    ids = ids[:limit]
    rows = queryset.order_by().in_bulk(ids)
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    return Page(
        count=min(counted, COUNT_CAP),
        next_offset=offset + limit if more else None,
        items=[rows[pk] for pk in ids if pk in rows],
    )
