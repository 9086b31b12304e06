"""Pieces every app's API schemas share: bounded input types, references, errors."""

from datetime import UTC, datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, StringConstraints

from keel.accounts.models import User

# Bounds that keep generated or hostile input inside what both databases store: ids and
# counts fit a 64-bit integer, and text never holds NUL (PostgreSQL refuses it).
MAX_ID = 2**63 - 1
NO_NUL = r"^[^\x00]*$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once in UTC") from None


# A time with its zone, kept in UTC: PostgreSQL refuses offsets past ±15:59.
Moment = Annotated[AwareDatetime, AfterValidator(_utc)]
Text100 = Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)]
Text200 = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
Text300 = Annotated[str, StringConstraints(max_length=300, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
Name200 = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
Search = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]


class UserRef(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return str(obj)


class ErrorOut(Schema):
    """Every refusal: `detail` says what to do; a refused input lists its problems.

    Validation errors found before Keel looks at the request (a missing field, a wrong
    type) keep django-ninja's shape: `detail` is then the list of those errors.
    """

    detail: str | list[dict[str, Any]]
    errors: list[str] | None = None


class UnmetOut(Schema):
    stage: str
    kind: str
    message: str


class MoveRefusedOut(ErrorOut):
    """A refused move: with unmet exit criteria, each with what would meet it."""

    unmet: list[UnmetOut] | None = None


# The refusals each kind of operation may answer with, for the OpenAPI document.
# 429 is a call past the caller's rate limit (keel/api/throttling.py).
READ_ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
LIST_ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 422: ErrorOut, 429: ErrorOut}
WRITE_ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,  # a body that is not JSON
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}
