from django.apps import AppConfig


class CollateralConfig(AppConfig):
    name = "keel.collateral"
    default_auto_field = "django.db.models.BigAutoField"
