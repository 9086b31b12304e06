from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from keel.pipeline.models import Deal


def collateral_sent(deal: "Deal") -> Sequence[tuple[str, datetime]]:
    """The pipeline's `collateral` exit criteria read this: each piece sent in the deal, as
    (its kind, when it was sent)."""
    from keel.collateral.models import CollateralUse

    uses = CollateralUse.objects.filter(deal_id=deal.pk).order_by()
    return list(uses.values_list("collateral__kind", "at"))


class CollateralConfig(AppConfig):
    name = "keel.collateral"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keel.pipeline.selectors import collateral_providers

        if collateral_sent not in collateral_providers:
            collateral_providers.append(collateral_sent)
