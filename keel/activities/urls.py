from django.urls import path

from keel.activities import views

app_name = "activities"
urlpatterns = [
    path("", views.task_list, name="task_list"),
    path("export/<str:fmt>/", views.task_export, name="task_export"),
    path("<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("<int:pk>/reopen/", views.task_reopen, name="task_reopen"),
    path("<int:pk>/reschedule/", views.task_reschedule, name="task_reschedule"),
]
