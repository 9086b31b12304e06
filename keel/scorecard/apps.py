from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_default_metrics(sender: AppConfig, **kwargs: Any) -> None:
    """Every database starts with the shipped scorecard metrics."""
    from keel.scorecard.services import metric_install_defaults

    metric_install_defaults()


class ScorecardConfig(AppConfig):
    name = "keel.scorecard"
    verbose_name = "Scorecard"

    def ready(self) -> None:
        post_migrate.connect(_install_default_metrics, sender=self)
