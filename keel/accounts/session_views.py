"""Your signed-in sessions: where and when, and signing them out. Each person sees and
ends only their own (someone else's is a 404)."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from keel.accounts.models import User, UserSession
from keel.accounts.user_sessions import session_end, sessions_end_others, sessions_for


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


@login_required
@require_http_methods(["GET"])
def session_list(request: HttpRequest) -> HttpResponse:
    lines = sessions_for(user=_user(request), current_key=request.session.session_key)
    return render(
        request,
        "accounts/sessions.html",
        {"lines": lines, "others": sum(1 for line in lines if not line.current)},
    )


@login_required
@require_POST
def session_sign_out(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    session = get_object_or_404(UserSession, pk=pk, user=user)  # someone else's: 404
    if session.session_key == request.session.session_key:
        logout(request)
        return redirect("login")
    session_end(session=session, by=user)
    messages.success(request, "That session is signed out.")
    return redirect("accounts:session_list")


@login_required
@require_POST
def sessions_sign_out_others(request: HttpRequest) -> HttpResponse:
    count = sessions_end_others(user=_user(request), current_key=request.session.session_key)
    messages.success(
        request,
        f"Signed out {count} other session{'s' if count != 1 else ''}."
        if count
        else "No other session was signed in.",
    )
    return redirect("accounts:session_list")
