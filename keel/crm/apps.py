from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "keel.crm"
    verbose_name = "Companies and contacts"
