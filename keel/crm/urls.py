from django.urls import path

from keel.crm import privacy_views, views

app_name = "crm"
urlpatterns = [
    path("companies/", views.company_list, name="company_list"),
    path("companies/export/<str:fmt>/", views.company_export, name="company_export"),
    path("companies/suggest/", views.company_suggest, name="company_suggest"),
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company_edit"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/export/<str:fmt>/", views.contact_export, name="contact_export"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path(
        "contacts/<int:pk>/personal-data/",
        privacy_views.contact_personal_data,
        name="contact_personal_data",
    ),
    path(
        "contacts/<int:pk>/personal-data/export/",
        privacy_views.contact_personal_data_export,
        name="contact_personal_data_export",
    ),
    path(
        "contacts/<int:pk>/personal-data/erase/",
        privacy_views.contact_erase,
        name="contact_erase",
    ),
    path(
        "contacts/<int:pk>/personal-data/allow/",
        privacy_views.contact_erased_allow,
        name="contact_erased_allow",
    ),
]
