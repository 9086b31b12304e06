from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "keel.core"
    verbose_name = "Core"
