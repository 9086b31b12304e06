from django.urls import path

from keel.activities import views

app_name = "activities"
urlpatterns = [
    path("", views.task_list, name="task_list"),
]
