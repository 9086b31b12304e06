"""One way every list page pages and sorts: bounded pages, whitelisted sort keys, stable URLs."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

PER_PAGE = 50
COUNT_CAP = 10_000  # rows counted at most: past that a list says "more than 10,000"
# A search (?q=) counts fewer: each row counted goes through its text filters (a
# three-letter word over 90,000 contacts: 76 ms to count to 10,000, 25 ms to 1,000).
SEARCH_COUNT_CAP = 1_000


class CappedPaginator(Paginator[Any]):
    """A paginator that stops counting at `cap` + 1 rows.

    An exact count of a broad search re-reads every matching row (90k contacts for "an");
    nobody pages that far, so the count stops early and the pages end at the cap.
    """

    def __init__(self, object_list: Any, per_page: int, *, cap: int) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def _counted(self) -> int:
        rows: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return rows.order_by()[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap


@dataclass(frozen=True)
class Listing:
    page: Page[Any]
    sort: str  # the sort key in force, "-" first when descending
    params: QueryDict  # the request's filters, without page and sort

    def url(self, **changes: str) -> str:
        """This list's query string with `changes` applied (an empty value drops a key)."""
        params = self.params.copy()
        params["sort"] = changes.pop("sort", self.sort)
        for key, value in changes.items():
            if value:
                params[key] = value
            else:
                params.pop(key, None)
        return "?" + params.urlencode()

    def sort_url(self, key: str) -> str:
        """Sort by `key`; asking again for the key in force turns the order round."""
        return self.url(sort=f"-{key}" if self.sort == key else key)

    def sorted_by(self, key: str) -> str:
        """'ascending', 'descending' or '' for `key`: the aria-sort of its column header."""
        if self.sort == key:
            return "ascending"
        return "descending" if self.sort == f"-{key}" else ""


def listing(
    *,
    request: HttpRequest,
    queryset: QuerySet[Any],
    sorts: Mapping[str, Sequence[str]],
    default: str,
    per_page: int = PER_PAGE,
) -> Listing:
    """Page `queryset` by the request's `page`, ordered by its `sort` if that is one of `sorts`.

    `sorts` maps a public key to the order_by fields it means (ascending); an unknown key
    falls back to `default`, an out-of-range page to the last one.
    """
    sort, order = sort_order(query=request.GET, sorts=sorts, default=default)
    ordered = queryset.order_by(*order)
    # Sort and cut the page on ids alone, then fetch that page's rows with their joins:
    # sorting 50,000 ids is cheap, sorting 50,000 joined rows to keep 50 is not.
    cap = SEARCH_COUNT_CAP if request.GET.get("q", "").strip() else COUNT_CAP
    page = CappedPaginator(ordered.values_list("pk", flat=True), per_page, cap=cap).get_page(
        request.GET.get("page")
    )
    ids = list(page.object_list)
    rows = queryset.order_by().in_bulk(ids)
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    params = request.GET.copy()
    for key in ("page", "sort"):
        params.pop(key, None)
    return Listing(page=page, sort=sort, params=params)


def sort_order(
    *, query: QueryDict, sorts: Mapping[str, Sequence[str]], default: str
) -> tuple[str, list[str]]:
    """The sort key in force (query's `sort`, else `default`) and its order_by fields.

    A leading "-" turns every field round; the primary key last keeps pages stable.
    """
    sort = query.get("sort", default)
    if sort.removeprefix("-") not in sorts:
        sort = default
    fields = list(sorts[sort.removeprefix("-")])
    if sort.startswith("-"):
        fields = [f[1:] if f.startswith("-") else f"-{f}" for f in fields]
    return sort, [*fields, "-pk" if sort.startswith("-") else "pk"]


def sorted_rows(
    *,
    queryset: QuerySet[Any],
    query: QueryDict,
    sorts: Mapping[str, Sequence[str]],
    default: str,
    chunk: int = 2000,
) -> Iterator[Any]:
    """Every row of `queryset` in the order its list page shows it, fetched in chunks:
    what an export of the list writes."""
    _, order = sort_order(query=query, sorts=sorts, default=default)
    return queryset.order_by(*order).iterator(chunk_size=chunk)
