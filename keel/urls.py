from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("deals/", include("keel.pipeline.urls")),
    path("tasks/", include("keel.activities.urls")),
    path("", include("keel.crm.urls")),  # companies/ and contacts/
    path("", include("keel.web.urls")),  # my day at /, the pipeline board
]
