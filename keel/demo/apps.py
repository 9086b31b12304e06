from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "keel.demo"
    verbose_name = "Demo business"
