"""From a file's rows to checked records of one kind, and the problems of the bad rows.

Pure: no database. The service passes what it needs from the database (the process's
stages), so every rule about a row's content lives here and is tested without one.
"""

import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keel.imports.parse import (
    Cell,
    DateOrder,
    Problem,
    Table,
    amount_parse,
    date_order_detect,
    date_parse,
    datetime_parse,
    duplicates,
    integer_parse,
    text,
)
from keel.imports.presets import (
    AMOUNT,
    DATE,
    DATETIME,
    INTEGER,
    REQUIRED,
    Resolved,
    field_specs,
)

PROGRESS_ROWS = 5000  # rows checked between two reports of progress
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CURRENCY = re.compile(r"[A-Z]{3}")

# Their words for an activity's type and outcome, to Keel's (activities/models.py).
ACTIVITY_TYPES = {
    "call": "call",
    "phone call": "call",
    "phone": "call",
    "logged call": "call",
    "email": "email",
    "e mail": "email",
    "logged email": "email",
    "meeting": "meeting",
    "event": "meeting",
    "presentation": "presentation",
    "proposal": "proposal_sent",
    "proposal sent": "proposal_sent",
    "demo": "demo",
    "networking event": "networking_event",
    "networking": "networking_event",
    "social touch": "social_touch",
    "linkedin": "social_touch",
    "linkedin message": "social_touch",
    "tradeshow contact": "tradeshow_contact",
    "tradeshow": "tradeshow_contact",
    "research": "research",
}
OUTCOMES = {
    "connected": "connected",
    "not connected": "not_connected",
    "no answer": "not_connected",
    "busy": "not_connected",
    "left message": "left_message",
    "left voicemail": "left_message",
    "left live message": "left_message",
    "held": "held",
    "completed": "held",
    "no show": "no_show",
    "replied": "replied",
    "no reply": "no_reply",
    "positive": "positive",
    "negative": "negative",
    "done": "done",
}
# Keel's lost reasons (pipeline/models.py LostReason) by words their text may hold.
LOST_REASON_WORDS = (
    ("price", "price"),
    ("expensive", "price"),
    ("competitor", "competitor"),
    ("no decision", "no_decision"),
    ("timing", "timing"),
    ("budget", "no_budget"),
    ("fit", "poor_fit"),
    ("dark", "went_dark"),
    ("unresponsive", "went_dark"),
    ("no response", "went_dark"),
)
LOST_REASONS = {value for _, value in LOST_REASON_WORDS} | {"other"}


def lost_reason_map(value: str) -> str:
    key = _key(value)
    if key.replace(" ", "_") in LOST_REASONS:
        return key.replace(" ", "_")
    for word, reason in LOST_REASON_WORDS:
        if word in key:
            return reason
    return "other"


def _key(value: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", value.casefold()).strip()


@dataclass(frozen=True)
class StageInfo:
    name: str
    kind: str  # open, won, lost


@dataclass
class Record:
    """One thing to import: a company, contact or activity (one row), or a deal (one row,
    or all the rows of its stage history)."""

    line: int
    values: dict[str, Any]
    lines: list[int] = field(default_factory=list)
    history: list[tuple[datetime | None, str]] = field(default_factory=list)  # (at, stage)


@dataclass
class Checked:
    records: list[Record]
    problems: list[Problem]
    rejected_lines: set[int]
    total: int
    unknown_stages: dict[str, int]  # their stage name → rows naming it
    date_order: DateOrder | None


class StageResolver:
    """Their stage names to the process's, through the user's map; never a guess."""

    def __init__(self, stages: Sequence[StageInfo], stage_map: Mapping[str, str]) -> None:
        self.by_name = {s.name.casefold(): s for s in stages}
        self.map = {k.strip().casefold(): v for k, v in stage_map.items()}
        self.bad_targets = sorted(
            v for v in stage_map.values() if v.strip().casefold() not in self.by_name
        )

    def __call__(self, name: str) -> StageInfo | None:
        key = name.strip().casefold()
        target = self.map.get(key)
        return self.by_name.get(target.strip().casefold() if target is not None else key)


def records_check(
    *,
    table: Table,
    kind: str,
    resolved: Resolved,
    stages: Sequence[StageInfo] = (),
    stage_map: Mapping[str, str] | None = None,
    date_format: str = "",
) -> Checked:
    """Every row of `table` parsed into a record of `kind`, or reported as a problem."""
    steps = records_check_steps(
        table=table,
        kind=kind,
        resolved=resolved,
        stages=stages,
        stage_map=stage_map,
        date_format=date_format,
    )
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            checked: Checked = finished.value
            return checked


def records_check_steps(
    *,
    table: Table,
    kind: str,
    resolved: Resolved,
    stages: Sequence[StageInfo] = (),
    stage_map: Mapping[str, str] | None = None,
    date_format: str = "",
) -> Generator[int, None, Checked]:
    """`records_check`, yielding how many rows it has checked every PROGRESS_ROWS rows."""
    specs = field_specs(kind)
    headers = table.headers
    index = {h: i for i, h in enumerate(headers)}
    columns = {f: index[h] for f, h in resolved.mapping.items()}
    problems: list[Problem] = list(table.problems)
    rejected: set[int] = {p.line for p in problems if p.line > 1}
    unknown: dict[str, int] = {}
    for name in REQUIRED[kind]:
        if name not in columns:
            reason = f"the required column for {specs[name].label.lower()} is missing"
            problems.append(Problem(1, name, reason))
    resolver = StageResolver(stages, stage_map or {})
    for target in resolver.bad_targets:
        problems.append(Problem(1, "stage map", f"{target!r} is not a stage of the process"))
    if any(p.line == 1 for p in problems):
        lines = {line for line, _ in table.rows}
        return Checked([], problems, lines, len(lines), unknown, None)

    date_columns = [i for f, i in columns.items() if specs[f].type in (DATE, DATETIME)]
    entered = {index[h]: stage for h, stage in resolved.entered.items()}
    order = None
    if not date_format:
        order = date_order_detect(
            values[i] for _, values in table.rows for i in (*date_columns, *entered)
        )
    for line, first in duplicates(table.rows).items():
        problems.append(Problem(line, "", f"duplicate of line {first}"))
        rejected.add(line)

    def bad(line: int, field_or_header: str, reason: str) -> None:
        column = resolved.mapping.get(field_or_header, field_or_header)
        problems.append(Problem(line, column, reason))
        rejected.add(line)

    converters: dict[str, Callable[[Cell], Any]] = {
        AMOUNT: amount_parse,
        INTEGER: integer_parse,
        DATE: lambda v: date_parse(v, date_format=date_format, order=order),
        DATETIME: lambda v: datetime_parse(v, date_format=date_format, order=order),
    }
    typed = [(f, i, specs[f], converters.get(specs[f].type)) for f, i in columns.items()]
    records: list[Record] = []
    for done, (line, values) in enumerate(table.rows):
        if done % PROGRESS_ROWS == 0:
            yield done
        if line in rejected:
            continue
        record = Record(line=line, values={}, lines=[line])
        ok = True
        for name, i, spec, convert in typed:
            value = values[i]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                converted = convert(value) if convert else text(value)
            except ValueError as error:
                bad(line, name, str(error))
                ok = False
                continue
            if spec.type == AMOUNT:
                amount, currency = converted  # type: ignore[misc]
                if amount < 0:
                    bad(line, name, f"{text(value)!r} is negative")
                    ok = False
                    continue
                record.values[name] = amount
                if currency:
                    record.values.setdefault("amount_currency", currency)
                continue
            if spec.max_length and len(converted) > spec.max_length:
                bad(line, name, f"longer than {spec.max_length} characters")
                ok = False
                continue
            record.values[name] = converted
        for i, stage in entered.items():
            value = values[i]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                record.history.append((converters[DATETIME](value), stage))
            except ValueError as error:
                bad(line, headers[i], str(error))
                ok = False
        if ok:
            ok = _KIND_CHECKS[kind](record, bad)
        if ok:
            records.append(record)
    if kind == "deals":
        records = _deals_assemble(
            records, resolver, bad, unknown, has_history="stage_at" in columns
        )
    else:
        records = _one_per_key(records, kind, bad)
    records = [r for r in records if not rejected.intersection(r.lines)]
    total = len(table.rows)
    yield total
    return Checked(records, sorted(problems), rejected, total, unknown, order)


Bad = Callable[[int, str, str], None]


def _company_check(record: Record, bad: Bad) -> bool:
    if not record.values.get("name"):
        bad(record.line, "name", "a company needs a name")
        return False
    domain = record.values.get("domain", "")
    if domain:
        record.values["domain"] = domain_clean(domain)
    return True


def domain_clean(value: str) -> str:
    """example.com from "https://www.example.com/about"."""
    value = re.sub(r"^[a-z]+://", "", value.strip().casefold())
    value = value.split("/", 1)[0]
    return value.removeprefix("www.")


def _contact_check(record: Record, bad: Bad) -> bool:
    values = record.values
    full = values.pop("full_name", "")
    if full and not values.get("last_name"):
        first, _, last = full.rpartition(" ")
        values["last_name"] = last
        values.setdefault("first_name", first)
    if not values.get("last_name"):
        bad(record.line, "last_name", "a contact needs a last name")
        return False
    email = values.get("email", "")
    if email:
        if not _EMAIL.fullmatch(email):
            bad(record.line, "email", f"{email!r} is not an e-mail address")
            return False
        values["email"] = email.casefold()
    return True


def _deal_check(record: Record, bad: Bad) -> bool:
    values = record.values
    if not values.get("stage"):
        bad(record.line, "stage", "a deal needs a stage")
        return False
    currency = values.get("currency") or values.get("amount_currency", "")
    values.pop("amount_currency", None)
    if currency:
        currency = currency.strip().upper()
        if not _CURRENCY.fullmatch(currency):
            bad(record.line, "currency", f"{currency!r} is not a currency code (EUR, USD…)")
            return False
        values["currency"] = currency
    status = _key(values.get("status", ""))
    if status and status not in ("open", "won", "lost"):
        bad(record.line, "status", f"{values['status']!r} is not open, won or lost")
        return False
    values["status"] = status
    if values.get("company_domain"):
        values["company_domain"] = domain_clean(values["company_domain"])
    return True


def _activity_check(record: Record, bad: Bad) -> bool:
    values = record.values
    kind = ACTIVITY_TYPES.get(_key(values.get("type", "")))
    if kind is None:
        bad(record.line, "type", f"{values.get('type')!r} is not an activity type Keel knows")
        return False
    values["type"] = kind
    if values.get("outcome"):
        outcome = OUTCOMES.get(_key(values["outcome"]))
        if outcome is None:
            bad(record.line, "outcome", f"{values['outcome']!r} is not an outcome Keel knows")
            return False
        values["outcome"] = outcome
    if not (values.get("deal") or values.get("contact") or values.get("company")):
        bad(record.line, "deal", "an activity needs a deal, a contact or a company")
        return False
    return True


_KIND_CHECKS: dict[str, Callable[[Record, Bad], bool]] = {
    "companies": _company_check,
    "contacts": _contact_check,
    "deals": _deal_check,
    "activities": _activity_check,
}

_KEYS = {
    "companies": ("external_id", "domain"),
    "contacts": ("external_id", "email"),
    "activities": (),
}


def _one_per_key(records: list[Record], kind: str, bad: Bad) -> list[Record]:
    """The second row for the same company or contact (by external id, domain, e-mail) is
    bad: which of the two is right is the user's call."""
    seen: dict[tuple[str, str], int] = {}
    kept = []
    for record in records:
        clash = None
        for key in _KEYS[kind]:
            value = record.values.get(key)
            if value:
                first = seen.setdefault((key, str(value).casefold()), record.line)
                if first != record.line:
                    clash = (key, value, first)
        if clash:
            key, value, first = clash
            bad(record.line, key, f"{value!r} is also on line {first}")
        else:
            kept.append(record)
    return kept


def _deals_assemble(
    records: list[Record],
    resolve: StageResolver,
    bad: Bad,
    unknown: dict[str, int],
    *,
    has_history: bool,
) -> list[Record]:
    """One record per deal, its history in date order and its stages the process's."""
    deals: dict[str, Record] = {}
    latest: dict[str, datetime] = {}
    for record in records:
        values = record.values
        key = values.get("external_id") or ""
        if has_history:
            if not key:
                bad(record.line, "external_id", "a stage-change row needs the deal's id")
                continue
            at = values.get("stage_at")
            if at is None:
                bad(record.line, "stage_at", "a stage-change row needs its date")
                continue
            deal = deals.get(key)
            if deal is None:
                deal = deals[key] = Record(line=record.line, values={}, lines=[])
            deal.lines.append(record.line)
            deal.history.append((at, values["stage"]))
            deal.history.extend(record.history)
            # The latest row's values win; earlier rows fill what it leaves blank.
            if key not in latest or at >= latest[key]:
                latest[key] = at
                deal.values.update(values)
            else:
                for name, value in values.items():
                    deal.values.setdefault(name, value)
            continue
        if not key:
            key = f"\0{record.line}"  # no id: matched later by name and company
        if key in deals:
            bad(record.line, "external_id", f"{key!r} is also on line {deals[key].line}")
            continue
        deals[key] = record
    assembled = []
    for deal in deals.values():
        history = deal.history
        if not has_history:
            current = deal.values["stage"]
            if not any(name.casefold() == current.casefold() for _, name in history):
                history.append((None, current))  # undated: the service dates it
        stays = _stays(deal, resolve, bad, unknown, current=None if has_history else current)
        if stays is None:
            continue
        deal.history = _with_outcome(deal.values, stays, resolve)
        deal.values["stage"] = deal.history[-1][1]
        assembled.append(deal)
    return assembled


def _stays(
    deal: Record,
    resolve: StageResolver,
    bad: Bad,
    unknown: dict[str, int],
    *,
    current: str | None,
) -> list[tuple[datetime | None, str]] | None:
    """The deal's stages as the process names them, in date order, `current` (the stage
    column's, when the dates come from entry columns) last; None if one is unknown."""
    resolved: list[tuple[datetime | None, str]] = []
    missing = []
    for at, name in deal.history:
        stage = resolve(name)
        if stage is None:
            missing.append(name)
        else:
            resolved.append((at, stage.name))
    if missing:
        for name in dict.fromkeys(missing):
            unknown[name] = unknown.get(name, 0) + 1
            reason = f"unknown stage {name!r}: map it to a stage of the process"
            bad(deal.lines[0], "stage", reason)
        for line in deal.lines[1:]:
            bad(line, "stage", "another row of this deal has an unknown stage")
        return None
    # Undated entries (a current stage with no date given) go last.
    resolved.sort(key=lambda entry: (entry[0] is None, entry[0] or datetime.min))
    now = resolve(current) if current else None
    if now is not None and resolved[-1][1] != now.name:
        # Entered again after a step back: the stage column says where it is now.
        at = next(at for at, name in reversed(resolved) if name == now.name)
        dated = [a for a, _ in resolved if a is not None]
        resolved.append((max([*dated, at]) if at and dated else at, now.name))
    stays: list[tuple[datetime | None, str]] = []
    for at, name in resolved:
        if not stays or stays[-1][1] != name:  # the same stage twice in a row is one stay
            stays.append((at, name))
    return stays


def _with_outcome(
    values: Mapping[str, Any], stays: list[tuple[datetime | None, str]], resolve: StageResolver
) -> list[tuple[datetime | None, str]]:
    """A won or lost status column applied: a deal its export calls won while its stage is
    an open one (Pipedrive keeps the stage it was won from) ends in the process's won stage."""
    status = values.get("status", "")
    current = resolve.by_name[stays[-1][1].casefold()]
    if status not in ("won", "lost") or current.kind != "open":
        return stays
    target = next((s for s in resolve.by_name.values() if s.kind == status), None)
    if target is None:
        return stays
    return [*stays, (values.get(f"{status}_at"), target.name)]
