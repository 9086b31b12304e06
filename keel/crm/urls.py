from django.urls import path

from keel.crm import views

app_name = "crm"
urlpatterns = [
    path("companies/", views.company_list, name="company_list"),
    path("contacts/", views.contact_list, name="contact_list"),
]
