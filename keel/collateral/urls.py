"""URLs of the collateral library, mounted at /collateral/."""

from django.urls import URLPattern, URLResolver, path

from keel.collateral import views

app_name = "collateral"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.library, name="library"),
    path("new/", views.new, name="new"),
    path("submit/", views.submit, name="submit"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/upload/", views.upload, name="upload"),
    path("<int:pk>/activate/", views.activate, name="activate"),
    path("<int:pk>/retire/", views.retire, name="retire"),
    path("<int:pk>/files/<int:number>/", views.file, name="file"),
]
