from django.urls import path

from keel.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("new/", views.run_upload, name="run_upload"),
    path("<int:pk>/", views.run_detail, name="run_detail"),
    path("<int:pk>/map/", views.run_map, name="run_map"),
    path("<int:pk>/commit/", views.run_commit, name="run_commit"),
    path("<int:pk>/rejected.csv", views.run_rejected, name="run_rejected"),
]
