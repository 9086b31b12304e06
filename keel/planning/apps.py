from django.apps import AppConfig


class PlanningConfig(AppConfig):
    """The big picture down to daily work: goals, strategies, tactical plans, tactics."""

    name = "keel.planning"
    verbose_name = "Planning"
