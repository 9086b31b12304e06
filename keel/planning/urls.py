from django.urls import URLPattern, URLResolver, include, path

app_name = "planning"
urlpatterns: list[URLPattern | URLResolver] = [
    # Goals, strategies, plans and tactics written on the web (edit_views.py).
    path("plans/", include("keel.planning.edit_urls")),
]
