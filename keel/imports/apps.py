from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "keel.imports"
    verbose_name = "Imports"
