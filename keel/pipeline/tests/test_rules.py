"""The exit-criteria check as a pure function of a deal snapshot."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keel.pipeline.rules import (
    ActivityCriterion,
    ActivityFact,
    ChecklistCriterion,
    CollateralCriterion,
    ContactRoleCriterion,
    DealSnapshot,
    FieldsCriterion,
    StageRules,
    unmet_criteria,
)

ENTERED = datetime(2026, 3, 1, 9, tzinfo=UTC)
BEFORE, AFTER = ENTERED - timedelta(days=1), ENTERED + timedelta(days=1)


def snapshot(**kwargs):
    defaults = {"fields": {}, "stage_entered_at": ENTERED, "entered_at": {"Qualify": ENTERED}}
    return DealSnapshot(**(defaults | kwargs))


def messages(deal, *criteria, stage="Qualify"):
    return [u.message for u in unmet_criteria(deal, [StageRules(stage, criteria)])]


def test_required_fields_name_the_empty_ones():
    rule = FieldsCriterion(fields=("amount", "expected_close", "next_step"))
    deal = snapshot(fields={"amount": Decimal(0), "expected_close": None, "next_step": ""})
    assert messages(deal, rule) == ["Fill in: Expected close date, Next step."]
    full = snapshot(fields={"amount": Decimal(5), "expected_close": "2026-05-01", "next_step": "x"})
    assert messages(full, rule) == []


def test_an_activity_counts_only_when_logged_while_in_the_stage():
    rule = ActivityCriterion(type="meeting", outcome="held")
    old = snapshot(activities=[ActivityFact("meeting", "held", BEFORE)])
    assert messages(old, rule) == ["Log a meeting (held) since the deal entered Qualify."]
    no_show = snapshot(activities=[ActivityFact("meeting", "no_show", AFTER)])
    assert len(messages(no_show, rule)) == 1
    held = snapshot(activities=[ActivityFact("meeting", "held", AFTER)])
    assert messages(held, rule) == []


def test_an_activity_count_and_an_earlier_stage_as_the_start():
    rule = ActivityCriterion(type="call", count=2, since_stage="Qualify")
    later = ENTERED + timedelta(days=10)
    deal = snapshot(
        stage_entered_at=later,
        entered_at={"Qualify": ENTERED, "Proof": later},
        activities=[ActivityFact("call", "connected", AFTER)],
    )
    assert messages(deal, rule, stage="Proof") == [
        "Log a call 2 times (found 1) since the deal entered Qualify."
    ]
    twice = snapshot(
        stage_entered_at=later,
        entered_at={"Qualify": ENTERED, "Proof": later},
        activities=[ActivityFact("call", "", AFTER), ActivityFact("call", "", AFTER)],
    )
    assert messages(twice, rule, stage="Proof") == []


def test_a_skipped_stage_counts_evidence_from_the_current_stint():
    rule = ActivityCriterion(type="demo")
    deal = snapshot(activities=[ActivityFact("demo", "", AFTER)])
    # "Proof" was never entered: the demo logged since entering Qualify satisfies it.
    assert messages(deal, rule, stage="Proof") == []


def test_checklist_item_must_be_ticked():
    rule = ChecklistCriterion(item="Budget confirmed")
    assert messages(snapshot(), rule) == ["Tick the checklist item “Budget confirmed”."]
    assert messages(snapshot(ticked=frozenset({"Budget confirmed"})), rule) == []


def test_contact_with_buying_role():
    rule = ContactRoleCriterion(role="decision_maker")
    assert messages(snapshot(contact_roles=frozenset({"champion"})), rule) == [
        "Attach a contact with the buying role decision maker."
    ]
    assert messages(snapshot(contact_roles=frozenset({"decision_maker"})), rule) == []


def test_collateral_of_a_kind_sent():
    rule = CollateralCriterion(collateral="case_study")
    assert messages(snapshot(collateral_sent=[("price_sheet", AFTER)]), rule) == [
        "Send the buyer a case study."
    ]
    assert messages(snapshot(collateral_sent=[("case_study", BEFORE)]), rule) == []
    recent = CollateralCriterion(collateral="case_study", since_stage="Qualify")
    assert len(messages(snapshot(collateral_sent=[("case_study", BEFORE)]), recent)) == 1


def test_every_stage_left_is_checked_and_reported_by_name():
    deal = snapshot()
    unmet = unmet_criteria(
        deal,
        [
            StageRules("Qualify", [ChecklistCriterion(item="ICP fit")]),
            StageRules("1st meeting", [ContactRoleCriterion(role="decision_maker")]),
        ],
    )
    assert [(u.stage, u.kind) for u in unmet] == [
        ("Qualify", "checklist"),
        ("1st meeting", "contact_role"),
    ]
    assert unmet[0].criterion == {"kind": "checklist", "item": "ICP fit"}
