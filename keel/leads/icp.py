"""The ideal customer profile: weighted criteria, and each company's fit with them, 0–100.

The profile is a list of criteria, each a firmographic test with a weight (1–100):

    company     field: industry | region | tier, in: [values]   the company's field is one of
    size        min / max: employees (either or both)            the company's size

They are the lead definition's `company` and `size` rules with a weight, and are checked
by the same parser (definition_rules.parse_rules). A company's fit is
round(100 × the weights of the criteria it meets ÷ all the weights), halves rounded up.

Scoring is set-based: the fit is one integer SQL expression (a CASE per criterion,
summed), so a save rescores every company with one UPDATE per chunk of those whose score
changes. The profile is kept as the InstanceSetting "icp". With no profile, `icp_fit` is
whatever was typed by hand; once there is one, it is computed and cannot be typed.

Who may change it: marketers, sales managers and the owner, as for the lead definition.
Everyone signed in reads it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import add
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from keel.accounts.models import User
from keel.core.checks import PathChecker
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.models import InstanceSetting
from keel.core.services import audit_record
from keel.crm.models import Company, Contact
from keel.leads.definition_rules import Rule, RulesError, parse_rules, rules_document
from keel.leads.definitions import (
    CHUNK,
    DEFINING_ROLES,
    Requalified,
    active_definition,
    contacts_requalify,
    rules_of,
)

ICP_KEY = "icp"  # the InstanceSetting that holds the profile
KINDS = ("company", "size")
ROOT = "criteria"
COMPUTED = "is computed from the ideal customer profile: change the profile, not the score."
BANDS = ("0–24", "25–49", "50–74", "75–100", "unscored")


@dataclass(frozen=True)
class Criterion:
    rule: Rule
    weight: int

    @property
    def words(self) -> str:
        return self.rule.words


# --- parsing (no ORM) -----------------------------------------------------------------------


class _Checker(PathChecker):
    root = ROOT


def _criterion(c: _Checker, raw: Any, path: str) -> Criterion | None:
    if not isinstance(raw, dict):
        c.error(path, "expected a criterion (a mapping with a kind and a weight)")
        return None
    weight = c.integer(raw, "weight", path, 1, 100)
    if "weight" not in raw:
        c.error(f"{path}.weight", "is required: a whole number from 1 to 100")
    if raw.get("kind") not in KINDS:
        c.error(f"{path}.kind", f"expected one of {', '.join(KINDS)}")
        return None
    # The test itself is a lead definition rule of the same kind: its parser checks it,
    # and its problems are named by this criterion's path.
    try:
        (rule,) = parse_rules([{k: v for k, v in raw.items() if k != "weight"}])
    except RulesError as error:
        for problem in error.errors:
            c.errors.append(path + problem.removeprefix("rules[0]"))
        return None
    return None if weight is None else Criterion(rule, weight)


def parse_criteria(document: Any) -> list[Criterion]:
    """The checked criteria of a profile; RulesError with every problem, each with its
    path (`criteria[1].weight: …`)."""
    if not isinstance(document, list) or not document:
        raise RulesError([f"{ROOT}: expected a list of one or more criteria"])
    c = _Checker()
    criteria = [_criterion(c, raw, f"{ROOT}[{i}]") for i, raw in enumerate(document)]
    if c.errors:
        raise RulesError(c.errors)
    return [criterion for criterion in criteria if criterion is not None]


def criteria_document(criteria: Sequence[Criterion]) -> list[dict[str, Any]]:
    """The criteria as stored: what `parse_criteria` reads back as the same criteria."""
    rules = rules_document([c.rule for c in criteria])
    return [rule | {"weight": c.weight} for rule, c in zip(rules, criteria, strict=True)]


def fit_of(met: int, total: int) -> int:
    """round(100 × met ÷ total), a half rounded up: what the database computes."""
    return (200 * met + total) // (2 * total)


# --- reading --------------------------------------------------------------------------------


def profile_read() -> list[Criterion]:
    """The saved criteria; none when no profile was saved (icp_fit is then typed by hand)."""
    setting = InstanceSetting.objects.filter(key=ICP_KEY).first()
    return parse_criteria(setting.value["criteria"]) if setting is not None else []


def profile_exists() -> bool:
    """Whether the fit is computed (a profile is saved) rather than typed by hand."""
    return InstanceSetting.objects.filter(key=ICP_KEY).exists()


def can_edit_icp(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.role in DEFINING_ROLES)


def ensure_can_edit_icp(user: User) -> None:
    if not can_edit_icp(user):
        raise NotAllowed(
            f"{user} may not change the ideal customer profile: marketers, sales managers "
            "and the owner may."
        )


def _met(criterion: Criterion) -> Q:
    """Whether a company meets the criterion, as a condition on companies."""
    rule = criterion.rule
    if rule.kind == "company":
        return Q(**{f"{rule.field}__in": list(rule.values)})
    size = Q(employees__isnull=False)
    if rule.low is not None:
        size &= Q(employees__gte=rule.low)
    if rule.high is not None:
        size &= Q(employees__lte=rule.high)
    return size


def score_expression(criteria: Sequence[Criterion]) -> Combinable:
    """A company's fit as one SQL expression: the weights of the criteria it meets, summed
    by a CASE each, scaled to 0–100 in whole-number arithmetic (the same on every database)."""
    total = sum(c.weight for c in criteria)
    met = reduce(
        add,
        (
            Case(When(_met(c), then=Value(c.weight)), default=Value(0), output_field=IntegerField())
            for c in criteria
        ),
    )
    return ExpressionWrapper((met * 200 + total) / (2 * total), output_field=IntegerField())


@dataclass(frozen=True)
class Contribution:
    """One criterion as a company's page shows it."""

    words: str
    weight: int
    met: bool
    points: Decimal  # of the 100 the fit is out of


def meets(criterion: Criterion, company: Company) -> bool:
    """Whether `company`, as loaded, meets the criterion: `_met` read in Python (both
    compare text exactly), so a page judges the company it has without a query."""
    rule = criterion.rule
    if rule.kind == "company":
        return str(getattr(company, rule.field)) in rule.values
    employees = company.employees
    if employees is None:
        return False
    return (rule.low is None or employees >= rule.low) and (
        rule.high is None or employees <= rule.high
    )


def icp_contributions(
    *, company: Company, criteria: Sequence[Criterion] | None = None
) -> list[Contribution]:
    """Each criterion of the profile (`criteria`, else the saved one) with whether the
    company meets it and the points that earns it (none without a profile)."""
    criteria = profile_read() if criteria is None else criteria
    total = sum(c.weight for c in criteria)
    tenth = Decimal("0.1")
    contributions = []
    for c in criteria:
        met = meets(c, company)
        points = (Decimal(100 * c.weight) / total).quantize(tenth) if met else Decimal(0)
        contributions.append(Contribution(c.words, c.weight, met, points))
    return contributions


def icp_distribution() -> list[tuple[str, int]]:
    """How many companies fall in each band of fit (and how many have none), in one query."""
    band = Case(
        When(icp_fit__isnull=True, then=Value(BANDS[4])),
        When(icp_fit__lt=25, then=Value(BANDS[0])),
        When(icp_fit__lt=50, then=Value(BANDS[1])),
        When(icp_fit__lt=75, then=Value(BANDS[2])),
        default=Value(BANDS[3]),
    )
    rows = Company.objects.annotate(band=band).order_by().values("band").annotate(n=Count("pk"))
    counts = {row["band"]: row["n"] for row in rows}
    return [(name, counts.get(name, 0)) for name in BANDS]


# --- writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rescored:
    scored: int  # companies scored
    changed: int  # of which the score changed
    requalified: Requalified  # their contacts, when the lead definition tests the fit


NOTHING = Requalified(0, 0, 0, 0)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _rescore(
    criteria: Sequence[Criterion], company_ids: Iterable[int] | None
) -> tuple[int, list[int]]:
    """Score the companies (all, or `company_ids`): (how many, the ids whose score changed)."""
    score = score_expression(criteria)
    differs = Q(icp_fit__isnull=True) | ~Q(icp_fit=F("score"))
    changed: list[int] = []
    if company_ids is None:
        scored = Company.objects.count()
        rows = Company.objects.alias(score=score).filter(differs).order_by("pk")
        changed = list(rows.values_list("pk", flat=True).iterator(chunk_size=5000))
    else:
        ids = sorted(set(company_ids))
        scored = len(ids)
        for chunk in _chunks(ids):
            rows = Company.objects.filter(pk__in=chunk).alias(score=score).filter(differs)
            changed += rows.values_list("pk", flat=True)
    for chunk in _chunks(changed):
        Company.objects.filter(pk__in=chunk).update(icp_fit=score)
    return scored, changed


def _requalify(changed: list[int]) -> Requalified:
    """The contacts of the companies whose fit changed, judged again when the active lead
    definition tests the fit: in chunks, or every contact when most companies changed."""
    definition = active_definition()
    if not changed or definition is None:
        return NOTHING
    if not any(rule.kind == "icp" for rule in rules_of(definition)):
        return NOTHING
    if len(changed) > Company.objects.count() // 2:
        return contacts_requalify(definition=definition)
    contacts: list[int] = []
    for chunk in _chunks(changed):
        contacts += Contact.objects.filter(company_id__in=chunk).values_list("pk", flat=True)
    totals = [0, 0, 0, 0]
    for chunk in _chunks(contacts):
        result = contacts_requalify(definition=definition, contact_ids=chunk)
        for i, n in enumerate((result.judged, result.gained, result.lost, result.written)):
            totals[i] += n
    return Requalified(*totals)


@transaction.atomic
def companies_score(
    *, company_ids: Iterable[int] | None = None, requalify: bool = True
) -> Rescored:
    """Compute the fit of the companies (all, or `company_ids`) from the saved profile, and
    (unless told not to) requalify the contacts of those whose fit changed. Nothing to do
    without a profile: the fit stays as typed."""
    criteria = profile_read()
    if not criteria:
        return Rescored(0, 0, NOTHING)
    scored, changed = _rescore(criteria, company_ids)
    return Rescored(scored, len(changed), _requalify(changed) if requalify else NOTHING)


def _checked(document: Any) -> list[Criterion]:
    try:
        return parse_criteria(document)
    except RulesError as error:
        count = len(error.errors)
        raise InvalidInput(
            f"The profile has {count} problem{'s' if count > 1 else ''}; nothing was saved.",
            details=error.errors,
        ) from None


@transaction.atomic
def icp_save(*, by: User, criteria: Any) -> Rescored:
    """Save the profile, rescore every company, and requalify the contacts of those whose
    fit changed when the active lead definition has an `icp` rule."""
    ensure_can_edit_icp(by)
    checked = _checked(criteria)
    document = {"criteria": criteria_document(checked)}
    setting = InstanceSetting.objects.select_for_update().filter(key=ICP_KEY).first()
    before = setting.value if setting is not None else None
    if setting is None:
        setting = InstanceSetting.objects.create(key=ICP_KEY, value=document)
    else:
        setting.value = document
        setting.save(update_fields=["value"])
    count = len(checked)
    audit_record(
        actor=by,
        action="icp.save",
        obj=setting,
        summary=f"Ideal customer profile: {count} criteri{'a' if count > 1 else 'on'}",
        changes={"criteria": [before["criteria"] if before else None, document["criteria"]]},
    )
    scored, changed = _rescore(checked, None)
    return Rescored(scored, len(changed), _requalify(changed))
