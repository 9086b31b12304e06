from django.urls import URLPattern, URLResolver, include, path

from keel.planning import job_views, plan_views

app_name = "planning"
urlpatterns: list[URLPattern | URLResolver] = [
    # A person's three questions, their team, check-ins (job_views.py).
    path("job/", job_views.job_page, name="job"),
    path("job/team/", job_views.team_page, name="team"),
    path("job/<int:person_id>/", job_views.job_page, name="job_of"),
    path("job/<int:person_id>/check-ins/", job_views.check_in_new, name="check_in_new"),
    path("job/<int:person_id>/trade-off/", job_views.trade_off_save, name="trade_off"),
    path("job/check-ins/<int:pk>/answer/", job_views.check_in_answer, name="check_in_answer"),
    # The plan: goal → strategy → tactics → who → on track (plan_views.py).
    path("plans/", plan_views.plans_page, name="plans"),
    path("plans/tactics/<int:pk>/", plan_views.tactic_page, name="tactic"),
    # Goals, strategies, plans and tactics written on the web (edit_views.py).
    path("plans/", include("keel.planning.edit_urls")),
]
