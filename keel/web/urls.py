from django.urls import path

from keel.web import audit_views, views

app_name = "web"
urlpatterns = [
    path("", views.today, name="today"),
    path("pipeline/", views.pipeline, name="pipeline"),
    path("audit/", audit_views.audit_trail, name="audit"),
    path("audit/export/<str:fmt>/", audit_views.audit_export, name="audit_export"),
]
