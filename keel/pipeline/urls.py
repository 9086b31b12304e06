from django.urls import path

from keel.pipeline import views

app_name = "pipeline"
urlpatterns = [
    path("", views.deal_list, name="deal_list"),
    path("export/<str:fmt>/", views.deal_export, name="deal_export"),
    path("new/", views.deal_new, name="deal_new"),
    path("<int:pk>/", views.deal_detail, name="deal_detail"),
    path("<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("<int:pk>/move/", views.deal_move_view, name="deal_move"),
    path("<int:pk>/tick/", views.deal_tick, name="deal_tick"),
    path("<int:pk>/log/", views.deal_log, name="deal_log"),
    path("<int:pk>/contacts/", views.deal_contact, name="deal_contact"),
]
