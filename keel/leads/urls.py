"""Lead capture: the public form endpoint (/f/<token>/) and the marketers' form pages."""

from django.urls import URLPattern, URLResolver, path

from keel.leads import capture_views as views

app_name = "leads"
urlpatterns: list[URLPattern | URLResolver] = [
    path("f/<str:token>/", views.form_submit, name="form_submit"),
    path("f/<str:token>/thanks/", views.form_thanks, name="form_thanks"),
    path("leads/forms/", views.form_list, name="form_list"),
    path("leads/forms/new/", views.form_new, name="form_new"),
    path("leads/forms/<int:pk>/", views.form_detail, name="form_detail"),
]
