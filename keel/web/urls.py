from django.urls import path

from keel.web import views

app_name = "web"
urlpatterns = [
    path("", views.today, name="today"),
    path("pipeline/", views.pipeline, name="pipeline"),
]
