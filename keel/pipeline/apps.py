from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_default_processes(sender: AppConfig, **kwargs: Any) -> None:
    """Every database starts with the shipped processes (New business, Renewal, Upsell)."""
    from keel.pipeline.services import process_install_defaults

    process_install_defaults()


class PipelineConfig(AppConfig):
    name = "keel.pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        post_migrate.connect(_install_default_processes, sender=self)
