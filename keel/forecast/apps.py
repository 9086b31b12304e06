from django.apps import AppConfig


class ForecastConfig(AppConfig):
    """Pipeline intelligence: stalled deals, win probability, the bookings forecast."""

    name = "keel.forecast"
