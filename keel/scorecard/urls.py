from django.urls import path

from keel.scorecard import funnel_views, metric_views, views

app_name = "scorecard"
urlpatterns = [
    # The scorecard and the monthly review (views.py).
    path("", views.scorecard_page, name="scorecard"),
    path("review/", views.review_page, name="review"),
    path("export/<str:fmt>/", views.scorecard_export, name="export"),
    # Metrics, hand-entered values and goals (metric_views.py).
    path("metrics/", metric_views.metric_list, name="metric_list"),
    path("metrics/new/", metric_views.metric_new, name="metric_new"),
    path("metrics/<slug:key>/", metric_views.metric_detail, name="metric_detail"),
    path("metrics/<slug:key>/edit/", metric_views.metric_edit, name="metric_edit"),
    path("metrics/<slug:key>/values/", metric_views.value_enter, name="metric_value_enter"),
    path("metrics/<slug:key>/goal/", metric_views.goal_save, name="goal_set"),
    # Funnel analytics (funnel_views.py).
    path("funnel/", funnel_views.funnel_page, name="funnel"),
]
