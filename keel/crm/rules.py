"""The one rule that derives a funnel stage from records.

A contact or company stands at the highest stage its records give evidence for:

| evidence in the records                                        | stage          |
|----------------------------------------------------------------|----------------|
| none                                                           | Suspect        |
| an activity logged with them (any touch, inbound or outbound)  | Prospect       |
| an inquiry: they expressed interest (form, call, request)      | Lead           |
| a qualification against the lead definition, or a deal (open   | Qualified lead |
|   or lost: a deal is only opened for a qualified lead)         |                |
| a won deal                                                     | Customer       |
| a won renewal or upsell, or a referral they made               | Raving fan     |

For a company, the evidence of its contacts counts as its own. The stage is never typed by
hand: change the records and the stage follows (services recompute it).
"""

from dataclasses import dataclass

from keel.crm.models import FunnelStage


@dataclass(frozen=True)
class FunnelEvidence:
    has_activity: bool = False
    has_inquiry: bool = False
    is_qualified: bool = False
    has_deal: bool = False
    has_won_deal: bool = False
    has_won_repeat_deal: bool = False
    has_referred: bool = False


def funnel_stage_for(evidence: FunnelEvidence) -> FunnelStage:
    if evidence.has_won_repeat_deal or evidence.has_referred:
        return FunnelStage.RAVING_FAN
    if evidence.has_won_deal:
        return FunnelStage.CUSTOMER
    if evidence.is_qualified or evidence.has_deal:
        return FunnelStage.QUALIFIED_LEAD
    if evidence.has_inquiry:
        return FunnelStage.LEAD
    if evidence.has_activity:
        return FunnelStage.PROSPECT
    return FunnelStage.SUSPECT
