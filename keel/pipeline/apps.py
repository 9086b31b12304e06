from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "keel.pipeline"
    verbose_name = "Pipeline"
