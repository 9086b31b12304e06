"""Sign-in pages Keel changes from django.contrib.auth's; included at accounts/ before
django.contrib.auth.urls, so that these paths take precedence."""

from django.urls import path

from keel.accounts.password_reset import LimitedPasswordResetView

urlpatterns = [
    path("password_reset/", LimitedPasswordResetView.as_view(), name="password_reset"),
]
