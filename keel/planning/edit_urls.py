"""Writing the Big Picture and the plans on the web (edit_views.py), under /plans/."""

from django.urls import URLPattern, URLResolver, path

from keel.planning import edit_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("goals/new/", edit_views.goal_new, name="goal_new"),
    path("goals/<int:pk>/edit/", edit_views.goal_edit, name="goal_edit"),
    path("strategies/new/", edit_views.strategy_new, name="strategy_new"),
    path("strategies/<int:pk>/edit/", edit_views.strategy_edit, name="strategy_edit"),
    path("new/", edit_views.plan_new, name="plan_new"),
    path("<int:pk>/edit/", edit_views.plan_edit, name="plan_edit"),
    path("<int:plan_pk>/tactics/new/", edit_views.tactic_new, name="tactic_new"),
    path("<int:plan_pk>/tactics/<int:pk>/edit/", edit_views.tactic_edit, name="tactic_edit"),
]
