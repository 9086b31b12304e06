"""The API's view of deals and their moves: what goes in, what comes out."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.api.pagination import ListParams
from keel.api.schemas import NO_NUL, Id, LongText, Name200, Search, Text100, Text300, UserRef
from keel.crm.models import Channel
from keel.crm.schemas import CompanyRef
from keel.pipeline.models import DealStatus, LostReason

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
StageName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]

DealOrdering = Literal[
    "id",
    "-id",
    "name",
    "-name",
    "company",
    "-company",
    "amount",
    "-amount",
    "close",
    "-close",
    "stage",
    "-stage",
    "updated",
    "-updated",
    "created",
    "-created",
]


class StageRef(Schema):
    id: int
    name: str
    kind: str


class ProcessRef(Schema):
    id: int
    name: str


class DealOut(Schema):
    id: int
    name: str
    company: CompanyRef
    owner: UserRef
    process: ProcessRef
    stage: StageRef
    status: str
    amount: Decimal | None
    currency: str
    expected_close: date | None
    channel: str
    source: str
    campaign: str
    next_step: str
    referred_by_id: int | None
    lost_reason: str
    lost_note: str
    stage_entered_at: datetime
    closed_at: datetime | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Send it back with a change or a move.")


class DealFilters(ListParams):
    q: Search = Field("", description="In the deal's or the company's name.")
    status: DealStatus | None = None
    owner: Id | None = Field(None, description="The owner's user id.")
    company: Id | None = Field(None, description="The company's id.")
    process: Id | None = Field(None, description="The sales process's id.")
    stage: StageName | None = Field(None, description="The stage's name.")
    ordering: DealOrdering = Field(
        "id", description="A key, or -key for descending; `id` (the default) pages cheapest."
    )


class DealPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[DealOut]


class DealIn(Schema):
    name: Name200
    company_id: Id
    owner_id: Id | None = Field(None, description="Default: you.")
    process_id: Id | None = Field(None, description="Default: the first active process.")
    stage: StageName | None = Field(None, description="An open stage; default: the first.")
    amount: Amount | None = None
    currency: Currency | None = None
    expected_close: date | None = None
    channel: Channel | None = None
    source: Text100 = ""
    campaign: Text100 = ""
    next_step: Text300 = ""
    referred_by_id: Id | None = None


class DealPatch(Schema):
    """Only the fields sent change; `version` is required."""

    version: int = Field(ge=1, le=2_147_483_647, description="The deal's version you edited.")
    name: Name200 | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    expected_close: date | None = None
    channel: Channel | None = None
    source: Text100 | None = None
    campaign: Text100 | None = None
    next_step: Text300 | None = None
    referred_by_id: Id | None = None
    owner_id: Id | None = None


class MoveIn(Schema):
    to_stage: StageName
    version: int = Field(ge=1, le=2_147_483_647, description="The deal's version you moved.")
    lost_reason: LostReason | None = None
    lost_note: LongText = ""
    override_reason: LongText = Field(
        "", description="A manager's reason to move despite unmet exit criteria."
    )
