from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "keel.api"
    verbose_name = "API"
