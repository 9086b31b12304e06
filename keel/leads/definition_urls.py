"""The lead definition's pages (definition_views.py), under /leads/definitions/."""

from django.urls import URLPattern, URLResolver, path

from keel.leads import definition_views as views

app_name = "lead_definitions"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.definition_list, name="list"),
    path("new/", views.definition_new, name="new"),
    path("v<int:version>/", views.definition_detail, name="detail"),
    path("v<int:version>/edit/", views.definition_edit, name="edit"),
    path("v<int:version>/approve/", views.definition_approve_view, name="approve"),
    path("v<int:version>/publish/", views.definition_publish_view, name="publish"),
]
