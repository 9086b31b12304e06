from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _install_default_processes(sender: AppConfig, **kwargs: Any) -> None:
    """Every database starts with the shipped processes (New business, Renewal, Upsell)."""
    from keel.pipeline.services import process_install_defaults

    process_install_defaults()


def _forget_cached_stages(sender: type, **kwargs: Any) -> None:
    from keel.pipeline.selectors import version_stages

    version_stages.cache_clear()


class PipelineConfig(AppConfig):
    name = "keel.pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        post_migrate.connect(_install_default_processes, sender=self)
        for model in ("pipeline.Stage", "activities.CompletionPlanStep"):
            post_save.connect(_forget_cached_stages, sender=model)
            post_delete.connect(_forget_cached_stages, sender=model)
