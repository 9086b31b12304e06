"""Reading the collateral library: search and filters, stage and buyer-step choices.

Search is the database's own full-text search over title and description (migration
0002): SQLite's FTS5 table `collateral_search`, PostgreSQL's `to_tsvector('simple', …)`
with its GIN index. Words are matched as prefixes, all of them required, best match
first. Stage and buyer-step filters test membership of the JSON lists in SQL, so a
filtered list pages in the database like any other.
"""

import re
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL

from keel.accounts.models import User
from keel.collateral.access import collateral_visible
from keel.collateral.models import Collateral, CollateralFile
from keel.pipeline.models import ProcessVersion, Stage

TABLE = Collateral._meta.db_table
WORD = re.compile(r"\w+")
MAX_WORDS = 10
PG_DOCUMENT = (
    f'to_tsvector(\'simple\'::regconfig, "{TABLE}"."title" || \' \' || "{TABLE}"."description")'
)
# The orders the library offers; "relevance" only means something with a search.
COLLATERAL_SORTS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "kind": ("kind", "title"),
    "status": ("status", "title"),
    "updated": ("updated_at",),
    "relevance": ("-rank", "title"),
}


def search_words(q: str) -> list[str]:
    """The words of a search, lower-cased: what both databases' queries are built of, so
    no operator a person types can change the query's meaning."""
    return [w.lower() for w in WORD.findall(q)][:MAX_WORDS]


# The SQL below is built only of constants (the table and field names); what a person
# typed reaches it only as a bound parameter.
PG_MATCH = f"{PG_DOCUMENT} @@ to_tsquery('simple'::regconfig, %s)"
PG_RANK = f"ts_rank({PG_DOCUMENT}, to_tsquery('simple'::regconfig, %s))"
FTS_MATCH = "SELECT rowid FROM collateral_search WHERE collateral_search MATCH %s"
# bm25 is lower for a better match; negated so both databases sort on "-rank".
FTS_RANK = (
    "(SELECT -bm25(collateral_search) FROM collateral_search "
    'WHERE collateral_search MATCH %s AND rowid = "collateral_collateral"."id")'
)
JSON_HOLDS = 'EXISTS (SELECT 1 FROM json_each("{table}"."{field}") AS item WHERE item.value = %s)'
LIST_FIELDS = frozenset({"stages", "buyer_steps"})


def _matching(pieces: QuerySet[Collateral], words: list[str]) -> QuerySet[Collateral]:
    if connection.vendor == "postgresql":
        query = " & ".join(f"{w}:*" for w in words)
        matches = RawSQL(PG_MATCH, [query], output_field=BooleanField())  # noqa: S611
        rank = RawSQL(PG_RANK, [query], output_field=FloatField())  # noqa: S611
        return pieces.filter(matches).annotate(rank=rank)
    # FTS5: each word quoted (so it is a word, never an operator) and a prefix.
    query = " ".join(f'"{w}"*' for w in words)
    ids = RawSQL(FTS_MATCH, [query])  # noqa: S611
    rank = RawSQL(FTS_RANK, [query], output_field=FloatField())  # noqa: S611
    return pieces.filter(pk__in=ids).annotate(rank=rank)


def holds(field: str, name: str) -> Q | RawSQL:
    """Pieces whose JSON list `field` (stages, buyer_steps) holds `name` exactly."""
    if field not in LIST_FIELDS:
        raise ValueError(f"{field} is not a list of names")
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": [name]})
    sql = JSON_HOLDS.format(table=TABLE, field=field)
    return RawSQL(sql, [name], output_field=BooleanField())  # noqa: S611


def collateral_search(
    *,
    user: User,
    q: str = "",
    kind: str = "",
    stage: str = "",
    buyer_step: str = "",
    status: str = "",
) -> QuerySet[Collateral]:
    """The pieces `user` may see that match the search and filters, with what a list shows
    of each (owner, latest version). With words to search, annotated with `rank`: higher
    is a better match. Unordered: the list orders and pages it (COLLATERAL_SORTS)."""
    pieces = collateral_visible(user)
    if kind:
        pieces = pieces.filter(kind=kind)
    if status:
        pieces = pieces.filter(status=status)
    if stage:
        pieces = pieces.filter(holds("stages", stage))
    if buyer_step:
        pieces = pieces.filter(holds("buyer_steps", buyer_step))
    words = search_words(q)
    if words:
        pieces = _matching(pieces, words)
    return pieces.select_related("owner").annotate(**latest_version())


def latest_version() -> dict[str, Any]:
    """Annotations naming each piece's latest file version, one subquery each."""
    latest = CollateralFile.objects.filter(collateral=OuterRef("pk")).order_by("-number")
    return {
        "latest_number": Subquery(latest.values("number")[:1], output_field=IntegerField()),
        "latest_name": Subquery(latest.values("name")[:1]),
    }


def _current_stages() -> QuerySet[Stage]:
    newest = ProcessVersion.objects.filter(process=OuterRef("version__process")).order_by("-number")
    return Stage.objects.filter(
        version__process__is_active=True, version_id=Subquery(newest.values("pk")[:1])
    )


def stage_names() -> list[str]:
    """The distinct stage names of the active processes' current versions, in process
    order (the first process's stages first)."""
    rows = _current_stages().order_by("version__process__name", "position")
    return list(dict.fromkeys(rows.values_list("name", flat=True)))


def buyer_step_names() -> list[str]:
    """The distinct buyer steps the current stages serve, in process order."""
    rows = _current_stages().exclude(buyer_step="").order_by("version__process__name", "position")
    return list(dict.fromkeys(rows.values_list("buyer_step", flat=True)))
