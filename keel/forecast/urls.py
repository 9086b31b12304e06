from django.urls import URLPattern, URLResolver, path

from keel.forecast import forecast_views, stall_views, win_views

app_name = "forecast"
urlpatterns: list[URLPattern | URLResolver] = [
    # Stalled deals and the pipeline cleanup (stall_views.py).
    path("pipeline/stalled/", stall_views.stalled, name="stalled"),
    path("pipeline/stalled/counts/", stall_views.stalled_counts, name="stalled_counts"),
    # The win model's report (win_views.py).
    path("forecast/model/", win_views.model_report, name="model"),
    # The forecast (forecast_views.py).
    path("forecast/", forecast_views.forecast_page, name="forecast"),
    path("forecast/backtest/", forecast_views.forecast_backtest, name="forecast_backtest"),
]
