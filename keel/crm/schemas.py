"""The API's view of companies and contacts: what goes in, what comes out."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from keel.api.pagination import ListParams
from keel.api.schemas import NO_NUL, Id, Moment, Name200, Search, Text100, Text200, Text300, UserRef
from keel.crm.forms import version_token
from keel.crm.models import BuyingRole, Channel, Company, Contact, FunnelStage, Tier

Count = Field(None, ge=0, le=2_147_483_647)
Score = Field(None, ge=0, le=100)

CompanyOrdering = Literal[
    "name", "-name", "funnel", "-funnel", "employees", "-employees", "updated", "-updated"
]
ContactOrdering = Literal[
    "name", "-name", "company", "-company", "funnel", "-funnel", "updated", "-updated"
]

# The time of the last change to the microsecond (updated_at as JSON keeps milliseconds).
VERSION_OUT_HELP = "The record's version: send it back with a change (PATCH)."
VERSION_HELP = "The `version` of the record this change is based on; a stale one is a 409."


class CompanyRef(Schema):
    id: int
    name: str


# --- companies --------------------------------------------------------------------------


class CompanyOut(Schema):
    id: int
    name: str
    domain: str
    industry: str
    employees: int | None
    region: str
    tier: str
    icp_fit: int | None
    owner: UserRef | None
    funnel_stage: str
    funnel_stage_since: datetime | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    version: str = Field(description=VERSION_OUT_HELP)

    @staticmethod
    def resolve_version(obj: Company) -> str:
        return version_token(obj)


class CompanyFilters(ListParams):
    q: Search = Field("", description="Each word in the name or the domain.")
    tier: Tier | None = None
    industry: Text100 = ""
    funnel_stage: FunnelStage | None = None
    owner: Id | None = Field(None, description="The owner's user id.")
    ordering: CompanyOrdering = "name"


class CompanyPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[CompanyOut]


class CompanyIn(Schema):
    name: Name200
    domain: Text200 = ""
    industry: Text100 = ""
    employees: int | None = Count
    region: Text100 = ""
    tier: Tier = Tier.STANDARD
    icp_fit: int | None = Score
    owner_id: Id | None = None


class CompanyPatch(Schema):
    """Only the fields sent change; `version` is required."""

    version: Moment = Field(description=VERSION_HELP)
    name: Name200 | None = None
    domain: Text200 | None = None
    industry: Text100 | None = None
    employees: int | None = Count
    region: Text100 | None = None
    tier: Tier | None = None
    icp_fit: int | None = Score
    owner_id: Id | None = None


# --- contacts ---------------------------------------------------------------------------


class ContactOut(Schema):
    id: int
    company: CompanyRef | None
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    buying_role: str
    channel: str
    consent: bool
    owner: UserRef | None
    inquired_at: datetime | None
    qualified_at: datetime | None
    referred_by_id: int | None
    funnel_stage: str
    funnel_stage_since: datetime | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    version: str = Field(description=VERSION_OUT_HELP)

    @staticmethod
    def resolve_version(obj: Contact) -> str:
        return version_token(obj)


class ContactFilters(ListParams):
    q: Search = Field("", description="Each word in a name, the e-mail or the company.")
    buying_role: BuyingRole | None = None
    funnel_stage: FunnelStage | None = None
    owner: Id | None = Field(None, description="The owner's user id.")
    company: Id | None = Field(None, description="The company's id.")
    ordering: ContactOrdering = "name"


class ContactPage(Schema):
    count: int = Field(description="Matching rows, counted up to 10,000.")
    next_offset: int | None
    items: list[ContactOut]


class ContactIn(Schema):
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
    first_name: Text100 = ""
    company_id: Id | None = None
    title: Text200 = ""
    email: Text300 = ""
    phone: Text100 = ""
    buying_role: BuyingRole | None = None
    channel: Channel | None = None
    consent: bool = False
    owner_id: Id | None = None
    inquired_at: Moment | None = None
    qualified_at: Moment | None = None


class ContactPatch(Schema):
    """Only the fields sent change; `version` is required. Send null to clear a choice."""

    version: Moment = Field(description=VERSION_HELP)
    last_name: (
        Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)] | None
    ) = None
    first_name: Text100 | None = None
    company_id: Id | None = None
    title: Text200 | None = None
    email: Text300 | None = None
    phone: Text100 | None = None
    buying_role: BuyingRole | None = None
    channel: Channel | None = None
    consent: bool | None = None
    owner_id: Id | None = None
    inquired_at: Moment | None = None
    qualified_at: Moment | None = None
