from django.urls import path

from keel.scorecard import funnel_views, views

app_name = "scorecard"
urlpatterns = [
    # The scorecard and the monthly review (views.py).
    path("", views.scorecard_page, name="scorecard"),
    path("review/", views.review_page, name="review"),
    path("export/<str:fmt>/", views.scorecard_export, name="export"),
    # Funnel analytics (funnel_views.py).
    path("funnel/", funnel_views.funnel_page, name="funnel"),
]
