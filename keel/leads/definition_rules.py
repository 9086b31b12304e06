"""The rules of a lead definition: what each kind checks, in plain words. No ORM here.

A definition's `rules` is a list of documents, each with a `kind`; a contact qualifies
when every rule holds. The kinds, with the fields each takes:

    company     field: industry | region | tier, in: [values]   the company's field is one of
    size        min / max: employees (either or both)            the company's size
    icp         min: 0–100                                        the company's ICP fit score
    authority   roles: [decision_maker, champion, …]             the contact's buying role
    seniority   words: [director, head, chief, …]                a word of the contact's title
    engagement  events: [download, inquiry, …], at_least: N,     marketing events of the contact
                days: D                                           in the last D days
    inquiry     days: D (optional)                                the contact inquired (lately)
    meeting     days: D                                           a meeting logged with them lately

`parse_rules` checks a list and returns typed rules, or raises RulesError with every
problem, each with the rule's index and key (`rules[2].days: expected a whole number …`).
"""

from dataclasses import dataclass
from typing import Any

from keel.crm.models import BuyingRole, Tier
from keel.leads.models import EventType

COMPANY_FIELDS = {"industry": "industry", "region": "region", "tier": "tier"}
MAX_DAYS = 3650


class RulesError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Rule:
    """One checked rule: its kind and the values it takes (unused ones left empty)."""

    kind: str
    field: str = ""
    values: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    days: int | None = None
    at_least: int = 1

    @property
    def words(self) -> str:
        """What it asks, in plain words."""
        listed = ", ".join(self.values)
        if self.kind == "company":
            return f"The company's {self.field} is one of: {listed}."
        if self.kind == "size":
            if self.low is not None and self.high is not None:
                return f"The company has {self.low:,} to {self.high:,} employees."
            if self.low is not None:
                return f"The company has at least {self.low:,} employees."
            return f"The company has at most {self.high:,} employees."
        if self.kind == "icp":
            return f"The company's ideal-customer fit is at least {self.low} of 100."
        if self.kind == "authority":
            roles = ", ".join(str(BuyingRole(v).label).lower() for v in self.values)
            return f"The contact's buying role is one of: {roles}."
        if self.kind == "seniority":
            return f"The contact's title holds one of the words: {listed}."
        if self.kind == "engagement":
            kinds = " or ".join(str(EventType(v).label).lower() for v in self.values)
            times = "once" if self.at_least == 1 else f"{self.at_least} times"
            return f"The contact engaged ({kinds}) at least {times} in the last {self.days} days."
        if self.kind == "inquiry":
            when = f" in the last {self.days} days" if self.days else ""
            return f"The contact inquired{when}."
        return f"A meeting was logged with the contact in the last {self.days} days."


KINDS = ("company", "size", "icp", "authority", "seniority", "engagement", "inquiry", "meeting")
_KEYS = {
    "company": {"kind", "field", "in"},
    "size": {"kind", "min", "max"},
    "icp": {"kind", "min"},
    "authority": {"kind", "roles"},
    "seniority": {"kind", "words"},
    "engagement": {"kind", "events", "at_least", "days"},
    "inquiry": {"kind", "days"},
    "meeting": {"kind", "days"},
}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def whole(self, data: dict[str, Any], key: str, path: str, *, low: int, high: int,
              required: bool) -> int | None:  # fmt: skip
        value = data.get(key)
        if value is None:
            if required:
                self.errors.append(f"{path}.{key}: is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.errors.append(f"{path}.{key}: expected a whole number from {low} to {high}")
            return None
        return int(value)

    def texts(self, data: dict[str, Any], key: str, path: str, *, allowed: set[str] | None = None
              ) -> tuple[str, ...]:  # fmt: skip
        value = data.get(key)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            self.errors.append(f"{path}.{key}: expected a list of one or more words")
            return ()
        found = tuple(v.strip() for v in value)
        if allowed is not None:
            unknown = [v for v in found if v not in allowed]
            if unknown:
                self.errors.append(
                    f"{path}.{key}: {', '.join(map(repr, unknown))} not one of "
                    f"{', '.join(sorted(allowed))}"
                )
                return ()
        return found


def _rule(c: _Checker, raw: Any, path: str) -> Rule | None:
    if not isinstance(raw, dict):
        c.errors.append(f"{path}: expected a rule (a mapping with a kind)")
        return None
    kind = raw.get("kind")
    if kind not in KINDS:
        c.errors.append(f"{path}.kind: expected one of {', '.join(KINDS)}")
        return None
    extra = sorted(set(raw) - _KEYS[kind])
    if extra:
        c.errors.append(f"{path}: {', '.join(extra)} make no sense for a {kind} rule")
    if kind == "company":
        field = raw.get("field")
        if field not in COMPANY_FIELDS:
            c.errors.append(f"{path}.field: expected one of {', '.join(COMPANY_FIELDS)}")
            return None
        allowed = set(Tier.values) if field == "tier" else None
        values = c.texts(raw, "in", path, allowed=allowed)
        return Rule(kind, field=field, values=values) if values else None
    if kind == "size":
        low = c.whole(raw, "min", path, low=0, high=10**7, required=False)
        high = c.whole(raw, "max", path, low=0, high=10**7, required=False)
        if low is None and high is None:
            c.errors.append(f"{path}: a size rule needs min, max or both")
            return None
        if low is not None and high is not None and low > high:
            c.errors.append(f"{path}.max: {high} is below min {low}")
            return None
        return Rule(kind, low=low, high=high)
    if kind == "icp":
        low = c.whole(raw, "min", path, low=0, high=100, required=True)
        return None if low is None else Rule(kind, low=low)
    if kind == "authority":
        roles = c.texts(raw, "roles", path, allowed=set(BuyingRole.values))
        return Rule(kind, values=roles) if roles else None
    if kind == "seniority":
        words = c.texts(raw, "words", path)
        return Rule(kind, values=tuple(w.lower() for w in words)) if words else None
    if kind == "engagement":
        events = c.texts(raw, "events", path, allowed=set(EventType.values))
        at_least = c.whole(raw, "at_least", path, low=1, high=1000, required=False) or 1
        days = c.whole(raw, "days", path, low=1, high=MAX_DAYS, required=True)
        if not events or days is None:
            return None
        return Rule(kind, values=events, at_least=at_least, days=days)
    if kind == "inquiry":
        days = c.whole(raw, "days", path, low=1, high=MAX_DAYS, required=False)
        return Rule(kind, days=days)
    days = c.whole(raw, "days", path, low=1, high=MAX_DAYS, required=True)
    return None if days is None else Rule(kind, days=days)


def parse_rules(document: Any) -> list[Rule]:
    """The checked rules of a definition; RulesError with every problem found."""
    if not isinstance(document, list) or not document:
        raise RulesError(["rules: expected a list of one or more rules"])
    c = _Checker()
    rules = [_rule(c, raw, f"rules[{i}]") for i, raw in enumerate(document)]
    if c.errors:
        raise RulesError(c.errors)
    return [r for r in rules if r is not None]


def rules_document(rules: list[Rule]) -> list[dict[str, Any]]:
    """The rules as stored: what `parse_rules` reads back as the same rules."""
    documents: list[dict[str, Any]] = []
    for r in rules:
        data: dict[str, Any] = {"kind": r.kind}
        if r.kind == "company":
            data |= {"field": r.field, "in": list(r.values)}
        elif r.kind == "size":
            data |= {k: v for k, v in (("min", r.low), ("max", r.high)) if v is not None}
        elif r.kind == "icp":
            data["min"] = r.low
        elif r.kind == "authority":
            data["roles"] = list(r.values)
        elif r.kind == "seniority":
            data["words"] = list(r.values)
        elif r.kind == "engagement":
            data |= {"events": list(r.values), "at_least": r.at_least, "days": r.days}
        elif r.days is not None:
            data["days"] = r.days
        documents.append(data)
    return documents
