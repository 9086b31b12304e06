"""What happens as a person signs in and out (connected in AccountsConfig.ready)."""

from typing import Any

from django.http import HttpRequest

from keel.accounts import two_factor, user_sessions
from keel.accounts.models import User


def on_signed_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return  # signed in outside a request: no session to note
    user_sessions.session_signed_in(request=request, user=user)
    two_factor.second_step_start(request, user)


def on_signed_out(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        user_sessions.session_signed_out(session_key=request.session.session_key)
