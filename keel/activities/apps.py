from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "keel.activities"
    verbose_name = "Activities and tasks"
