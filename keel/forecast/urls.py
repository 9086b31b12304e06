from django.urls import URLPattern, URLResolver, path

from keel.forecast import stall_views

app_name = "forecast"
urlpatterns: list[URLPattern | URLResolver] = [
    # Stalled deals and the pipeline cleanup (stall_views.py).
    path("pipeline/stalled/", stall_views.stalled, name="stalled"),
    path("pipeline/stalled/counts/", stall_views.stalled_counts, name="stalled_counts"),
]
