from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "keel.hooks"
    verbose_name = "Webhooks"
