"""The hand-off pages (handoff_views.py), under /leads/."""

from django.urls import URLPattern, URLResolver, path

from keel.leads import handoff_views as views

app_name = "handoffs"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.handoff_list, name="list"),
    path("<int:pk>/accept/", views.handoff_accept_view, name="accept"),
    path("<int:pk>/reject/", views.handoff_reject_view, name="reject"),
    path("<int:pk>/assign/", views.handoff_assign_view, name="assign"),
    path("routing/", views.routing, name="routing"),
    path("routing/new/", views.routing_rule_new, name="rule_new"),
    path("routing/policy/", views.routing_policy, name="policy"),
    path("routing/<int:pk>/", views.routing_rule_edit, name="rule_edit"),
    path("routing/<int:pk>/move/", views.routing_rule_move_view, name="rule_move"),
    path("routing/<int:pk>/delete/", views.routing_rule_delete_view, name="rule_delete"),
    path("feedback/", views.feedback, name="feedback"),
]
