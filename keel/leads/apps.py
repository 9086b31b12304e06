from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "keel.leads"
    verbose_name = "Leads and marketing"
