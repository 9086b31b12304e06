from django.urls import path

from keel.pipeline import views

app_name = "pipeline"
urlpatterns = [
    path("", views.deal_list, name="deal_list"),
]
