from django.urls import URLPattern, URLResolver, path  # noqa: F401 - the sections add paths

app_name = "forecast"
urlpatterns: list[URLPattern | URLResolver] = [
    # Stalled deals and the pipeline cleanup (stall_views.py).
    # The win model's report (win_views.py).
    # The forecast (forecast_views.py).
]
