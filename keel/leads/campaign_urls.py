"""The campaign pages (campaign_views.py)."""

from django.urls import URLPattern, URLResolver, path

from keel.leads import campaign_views as views

app_name = "campaigns"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("report/", views.campaign_report_page, name="report"),
]
