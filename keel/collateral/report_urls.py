"""The collateral library's reports."""

from django.urls import path

from keel.collateral import report_views as views

app_name = "collateral_reports"
urlpatterns = [
    path("", views.report_overview, name="overview"),
]
