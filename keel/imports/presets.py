"""Which column of a file holds which of Keel's fields: presets for the usual exports.

Pure: no database. A mapping is {Keel field: the file's header}. The presets know the
headers Salesforce, HubSpot and Pipedrive write (data exports and report labels) and
Keel's own export (its field names); the preset is picked by the headers when none is
named, and a user's mapping overrides any field of it.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keel.imports.parse import header_key

KINDS = ("companies", "contacts", "deals", "activities")
PRESETS = ("salesforce", "hubspot", "pipedrive", "keel")

# Keel's fields per kind, with the kind of value each holds and its longest text.
TEXT, DATE, DATETIME, AMOUNT, INTEGER = "text", "date", "datetime", "amount", "integer"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = TEXT
    max_length: int = 0
    label: str = ""


def _f(name: str, type_: str = TEXT, max_length: int = 0, label: str = "") -> FieldSpec:
    return FieldSpec(name, type_, max_length, label or name.replace("_", " ").capitalize())


FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "companies": (
        _f("external_id", max_length=100, label="External id"),
        _f("name", max_length=200),
        _f("domain", max_length=200),
        _f("industry", max_length=100),
        _f("employees", INTEGER),
        _f("region", max_length=100),
        _f("owner", label="Owner (e-mail or name)"),
    ),
    "contacts": (
        _f("external_id", max_length=100, label="External id"),
        _f("first_name", max_length=100),
        _f("last_name", max_length=100),
        _f("full_name", label="Full name (split when first/last are missing)"),
        _f("email", max_length=254, label="E-mail"),
        _f("phone", max_length=50),
        _f("title", max_length=150),
        _f("company", max_length=200, label="Company name"),
        _f("company_external_id", max_length=100, label="Company external id"),
        _f("owner", label="Owner (e-mail or name)"),
    ),
    "deals": (
        _f("external_id", max_length=100, label="External id"),
        _f("name", max_length=200),
        _f("company", max_length=200, label="Company name"),
        _f("company_external_id", max_length=100, label="Company external id"),
        _f("company_domain", max_length=200, label="Company domain"),
        _f("owner", label="Owner (e-mail or name)"),
        _f("amount", AMOUNT),
        _f("currency", max_length=3),
        _f("stage", max_length=100),
        _f("stage_at", DATETIME, label="Stage change date (one row per change)"),
        _f("created_at", DATETIME, label="Created"),
        _f("expected_close", DATE),
        _f("status", label="Status (open/won/lost)"),
        _f("won_at", DATETIME, label="Won time"),
        _f("lost_at", DATETIME, label="Lost time"),
        _f("lost_reason"),
        _f("next_step", max_length=300),
        _f("source", max_length=100),
        _f("campaign", max_length=100),
    ),
    "activities": (
        _f("type", label="Type"),
        _f("at", DATETIME, label="Date"),
        _f("duration_minutes", INTEGER),
        _f("outcome"),
        _f("notes"),
        _f("by", label="By (e-mail or name)"),
        _f("deal", label="Deal (external id or name)"),
        _f("contact", label="Contact (e-mail or external id)"),
        _f("company", label="Company (name, domain or external id)"),
    ),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "companies": ("name",),
    "contacts": (),  # a last name, or a full name to split: checked per row
    "deals": ("stage",),  # a name too, for a deal not yet in Keel: checked per row
    "activities": ("type", "at"),
}


def field_specs(kind: str) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in FIELDS[kind]}


# --- the presets ------------------------------------------------------------------------

# (preset, kind, variant) → {field: header aliases}. Variants are separate exports of the
# same kind (Salesforce's Opportunity object vs its OpportunityHistory vs a report).
Aliases = dict[str, tuple[str, ...]]
_PRESETS: dict[tuple[str, str, str], Aliases] = {
    ("salesforce", "companies", "accounts"): {
        "external_id": ("Id", "Account ID"),
        "name": ("Name", "Account Name"),
        "domain": ("Website",),
        "industry": ("Industry",),
        "employees": ("NumberOfEmployees", "Employees"),
        "region": ("BillingCountry", "Billing Country"),
        "owner": ("OwnerId", "Account Owner"),
    },
    ("salesforce", "contacts", "contacts"): {
        "external_id": ("Id", "Contact ID"),
        "first_name": ("FirstName", "First Name"),
        "last_name": ("LastName", "Last Name"),
        "email": ("Email",),
        "phone": ("Phone",),
        "title": ("Title",),
        "company": ("Account Name",),
        "company_external_id": ("AccountId", "Account ID"),
        "owner": ("OwnerId", "Contact Owner"),
    },
    ("salesforce", "deals", "opportunities"): {
        "external_id": ("Id", "Opportunity ID"),
        "name": ("Name", "Opportunity Name"),
        "company": ("Account Name",),
        "company_external_id": ("AccountId", "Account ID"),
        "owner": ("OwnerId", "Opportunity Owner"),
        "amount": ("Amount",),
        "currency": ("CurrencyIsoCode", "Opportunity Currency", "Amount Currency"),
        "stage": ("StageName", "Stage"),
        "created_at": ("CreatedDate", "Created Date"),
        "expected_close": ("CloseDate", "Close Date"),
        "next_step": ("NextStep", "Next Step"),
        "source": ("LeadSource", "Lead Source"),
        "campaign": ("CampaignId", "Primary Campaign Source"),
        "lost_reason": ("Loss_Reason__c", "Loss Reason"),
    },
    ("salesforce", "deals", "opportunity history"): {
        "external_id": ("OpportunityId", "Opportunity ID"),
        "stage": ("StageName", "Stage"),
        "stage_at": ("CreatedDate", "Created Date", "Last Modified"),
        "amount": ("Amount",),
        "expected_close": ("CloseDate", "Close Date"),
    },
    ("salesforce", "activities", "tasks"): {
        "type": ("Type", "TaskSubtype", "Task Subtype"),
        "at": ("ActivityDate", "Date", "Due Date"),
        "duration_minutes": ("DurationInMinutes", "Duration"),
        "notes": ("Description", "Comments", "Subject"),
        "by": ("OwnerId", "Assigned"),
        "deal": ("WhatId", "Opportunity"),
        "contact": ("WhoId", "Contact"),
        "company": ("AccountId", "Account"),
    },
    ("hubspot", "companies", "companies"): {
        "external_id": ("Record ID", "Company ID"),
        "name": ("Company name", "Name"),
        "domain": ("Company Domain Name", "Website URL"),
        "industry": ("Industry",),
        "employees": ("Number of Employees",),
        "region": ("Country/Region", "Country"),
        "owner": ("Company owner",),
    },
    ("hubspot", "contacts", "contacts"): {
        "external_id": ("Record ID", "Contact ID"),
        "first_name": ("First Name",),
        "last_name": ("Last Name",),
        "email": ("Email",),
        "phone": ("Phone Number", "Mobile Phone Number"),
        "title": ("Job Title",),
        "company": ("Associated Company", "Company Name", "Associated Company (Primary)"),
        "owner": ("Contact owner",),
    },
    ("hubspot", "deals", "deals"): {
        "external_id": ("Record ID", "Deal ID"),
        "name": ("Deal Name",),
        "company": ("Associated Company", "Associated Company (Primary)"),
        "owner": ("Deal owner",),
        "amount": ("Amount",),
        "currency": ("Currency", "Deal currency code"),
        "stage": ("Deal Stage",),
        "created_at": ("Create Date",),
        "expected_close": ("Close Date",),
        "lost_reason": ("Closed Lost Reason",),
        "source": ("Original Source Type", "Original Traffic Source"),
        "next_step": ("Next step",),
    },
    ("hubspot", "activities", "activities"): {
        "type": ("Activity type", "Engagement type"),
        "at": ("Activity date", "Create date"),
        "duration_minutes": ("Call duration", "Meeting duration"),
        "outcome": ("Call outcome", "Meeting outcome"),
        "notes": ("Body", "Notes", "Call notes"),
        "by": ("Activity assigned to", "HubSpot owner"),
        "deal": ("Associated Deal",),
        "contact": ("Associated Contact", "Associated Contact email"),
        "company": ("Associated Company",),
    },
    ("pipedrive", "companies", "organizations"): {
        "external_id": ("Organization - ID",),
        "name": ("Organization - Name",),
        "domain": ("Organization - Website",),
        "industry": ("Organization - Industry",),
        "employees": ("Organization - Number of employees",),
        "region": ("Organization - Address - Country", "Organization - Country"),
        "owner": ("Organization - Owner",),
    },
    ("pipedrive", "contacts", "persons"): {
        "external_id": ("Person - ID",),
        "first_name": ("Person - First name",),
        "last_name": ("Person - Last name",),
        "full_name": ("Person - Name",),
        "email": ("Person - Email", "Person - Email - Work"),
        "phone": ("Person - Phone", "Person - Phone - Work"),
        "title": ("Person - Job title",),
        "company": ("Person - Organization",),
        "owner": ("Person - Owner",),
    },
    ("pipedrive", "deals", "deals"): {
        "external_id": ("Deal - ID",),
        "name": ("Deal - Title",),
        "company": ("Deal - Organization",),
        "owner": ("Deal - Owner",),
        "amount": ("Deal - Value",),
        "currency": ("Deal - Currency of Value", "Deal - Currency"),
        "stage": ("Deal - Stage",),
        "created_at": ("Deal - Deal created",),
        "expected_close": ("Deal - Expected close date",),
        "status": ("Deal - Status",),
        "won_at": ("Deal - Won time",),
        "lost_at": ("Deal - Lost time",),
        "lost_reason": ("Deal - Lost reason",),
        "source": ("Deal - Source", "Deal - Source channel"),
    },
    ("pipedrive", "activities", "activities"): {
        "type": ("Activity - Type",),
        "at": ("Activity - Due date", "Activity - Date of entry"),
        "duration_minutes": ("Activity - Duration",),
        "notes": ("Activity - Note", "Activity - Subject"),
        "by": ("Activity - Assigned to user", "Activity - Owner"),
        "deal": ("Activity - Deal", "Deal - ID"),
        "contact": ("Activity - Contact person", "Person - Email"),
        "company": ("Activity - Organization",),
    },
}
for _kind in KINDS:  # Keel's own export: its field names as headers
    _PRESETS[("keel", _kind, _kind)] = {s.name: (s.name,) for s in FIELDS[_kind]}

# HubSpot: Date entered "Appointment Scheduled (Sales Pipeline)"; Keel: "entered: Proposal".
_ENTERED = re.compile(
    r"^(?:date entered|entered:?|stage entered:?)\s+"
    r'"?(?P<stage>.+?)(?:\s+\((?P<pipeline>[^)]*)\))?"?$',
    re.IGNORECASE,
)


def entered_stage(header: str) -> str | None:
    """The stage a "date entered <stage>" column dates, or None for any other column."""
    match = _ENTERED.match(header.strip())
    return match.group("stage").strip().strip('"') if match else None


@dataclass(frozen=True)
class Resolved:
    preset: str  # "" for a mapping given in full by the user
    variant: str
    mapping: dict[str, str]  # field → header
    entered: dict[str, str]  # header → source stage name ("Date entered" columns)


def _score(aliases: Aliases, keys: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    mapping: dict[str, str] = {}
    for field, names in aliases.items():
        for name in names:
            header = keys.get(header_key(name))
            if header is not None and header not in mapping.values():
                mapping[field] = header
                break
    return len(mapping), mapping


def mapping_resolve(
    *,
    kind: str,
    headers: Sequence[str],
    preset: str = "",
    overrides: Mapping[str, str] | None = None,
) -> Resolved:
    """The mapping for `headers`: the named preset's, else the best-fitting preset's, with
    `overrides` ({field: header}, header "" to drop a field) applied over it."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: one of {', '.join(KINDS)}.")
    if preset and preset not in PRESETS:
        raise ValueError(f"Unknown mapping {preset!r}: one of {', '.join(PRESETS)}.")
    keys = {header_key(h): h for h in headers if h}
    best: tuple[int, str, str, dict[str, str]] = (0, "", "", {})
    for (name, preset_kind, variant), aliases in _PRESETS.items():
        if preset_kind != kind or (preset and name != preset):
            continue
        score, mapping = _score(aliases, keys)
        if score > best[0]:
            best = (score, name, variant, mapping)
    _, name, variant, mapping = best
    if preset and not name:
        name = preset
    known = field_specs(kind)
    for field, header in (overrides or {}).items():
        if field not in known:
            raise ValueError(f"{field!r} is not a field of {kind}: one of {', '.join(known)}.")
        if header and header not in headers:
            raise ValueError(f"The file has no column {header!r} (for {field}).")
        mapping = {f: h for f, h in mapping.items() if h != header or f == field}
        if header:
            mapping[field] = header
        else:
            mapping.pop(field, None)
    entered = {}
    if kind == "deals":
        used = set(mapping.values())
        for header in headers:
            stage = entered_stage(header) if header not in used else None
            if stage:
                entered[header] = stage
    return Resolved(preset=name, variant=variant, mapping=mapping, entered=entered)


def stage_map_parse(text: str) -> dict[str, str]:
    """--stage-map "Closed Won=Intake,Negotiation/Review=Proposal", or a YAML mapping's text."""
    text = text.strip()
    if not text:
        return {}
    if "\n" in text or text.startswith("{"):
        import yaml

        loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ValueError("A stage map file holds 'their stage: Keel stage' lines.")
        return {str(k).strip(): str(v).strip() for k, v in loaded.items()}
    pairs = {}
    for part in text.split(","):
        source, sep, target = part.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"{part.strip()!r} is not 'their stage=Keel stage'.")
        pairs[source.strip()] = target.strip()
    return pairs
