from django.urls import path

from keel.scorecard import views

app_name = "scorecard"
urlpatterns = [
    # The scorecard and the monthly review (views.py).
    path("", views.scorecard_page, name="scorecard"),
    path("review/", views.review_page, name="review"),
    path("export/<str:fmt>/", views.scorecard_export, name="export"),
]
