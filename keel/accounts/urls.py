from django.urls import path

from keel.accounts import session_views, two_factor_views, views

app_name = "accounts"
urlpatterns = [
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("time-zone/", views.time_zone_edit, name="time_zone"),
    path("two-factor/", two_factor_views.two_factor_overview, name="two_factor"),
    path("two-factor/set-up/", two_factor_views.two_factor_enrol, name="two_factor_enrol"),
    path("two-factor/verify/", two_factor_views.two_factor_verify, name="two_factor_verify"),
    path(
        "two-factor/recovery-codes/",
        two_factor_views.recovery_codes_new,
        name="two_factor_recovery_codes",
    ),
    path("two-factor/turn-off/", two_factor_views.two_factor_disable, name="two_factor_disable"),
    path(
        "two-factor/required/",
        two_factor_views.two_factor_requirement,
        name="two_factor_required",
    ),
    path("sessions/", session_views.session_list, name="session_list"),
    path("sessions/<int:pk>/sign-out/", session_views.session_sign_out, name="session_sign_out"),
    path(
        "sessions/sign-out-others/",
        session_views.sessions_sign_out_others,
        name="sessions_sign_out_others",
    ),
]
