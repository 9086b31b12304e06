from django.conf import settings
from django.db import models


class StallCount(models.Model):
    """One night's open and stalled deals per stage and owner: the cleanup's trend.

    Written by the nightly task (forecast/tasks.py) for the day it runs; running it twice
    on a day replaces that day's rows.
    """

    day = models.DateField()
    stage = models.ForeignKey("pipeline.Stage", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    open_deals = models.PositiveIntegerField()
    stalled = models.PositiveIntegerField()
    # How many stalled deals each reason marked: {"dwell": 3, "idle": 5, "overdue": 2}.
    by_reason = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-day", "stage", "owner"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stalled__lte=models.F("open_deals")),
                name="stall_count_stalled_lte_open",
            ),
        ]
        indexes = [models.Index(fields=["day", "stage"])]

    def __str__(self) -> str:
        return f"{self.day}: {self.stalled} of {self.open_deals} stalled"


class WinModel(models.Model):
    """A win-probability model learned from closed deals, with its honest backtest.

    The fitted model is kept as plain numbers (coefficients, the feature encoding, the
    calibration map) in `parameters`, never as a pickle: reading it back runs no code.
    The newest active one scores the open deals.
    """

    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_deals = models.PositiveIntegerField(help_text="Closed deals it was trained on.")
    parameters = models.JSONField()
    # The backtest: cutoff, sizes, Brier score, log loss, AUC and the calibration table,
    # next to the baselines measured in the same run.
    report = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"Win model of {self.trained_at:%Y-%m-%d %H:%M} ({self.closed_deals} deals)"
