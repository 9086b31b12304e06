from django.urls import path

from keel.scorecard import views

app_name = "scorecard"
urlpatterns = [
    # The scorecard and the monthly review (views.py).
    path("", views.scorecard_page, name="scorecard"),
    # Metrics, hand-entered values and goals (metric_views.py).
    # Funnel analytics (funnel_views.py).
]
