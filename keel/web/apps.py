from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keel.web"
    verbose_name = "Web"
