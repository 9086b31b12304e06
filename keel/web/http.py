from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (django-htmx's middleware sets request.htmx)."""
    return bool(getattr(request, "htmx", False))


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` URL the form asked to return to, if it stays on this site; else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
