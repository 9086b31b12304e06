"""The webhook pages: endpoints, their secret, a test event and the delivery log.

Only the owner and superusers see them; everyone else gets 403 (see access.py).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from keel.accounts.models import User
from keel.core.exceptions import KeelError
from keel.hooks import selectors
from keel.hooks.access import can_manage_webhooks
from keel.hooks.forms import EndpointForm
from keel.hooks.models import WebhookDelivery, WebhookEndpoint
from keel.hooks.services import (
    delivery_retry,
    endpoint_create,
    endpoint_secret_rotate,
    endpoint_test_send,
    endpoint_update,
)


def _manager(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not can_manage_webhooks(user):
        raise PermissionDenied("Only the owner of the business manages webhooks.")
    return user


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    _manager(request)
    endpoints = selectors.endpoint_list()
    return render(request, "hooks/endpoint_list.html", {"endpoints": endpoints})


@login_required
def endpoint_new(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = endpoint_create(
                by=user, url=data["url"], events=data["events"], description=data["description"]
            )
        except KeelError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, "The endpoint is registered. Give its secret to the receiver."
            )
            return redirect("hooks:endpoint_detail", pk=endpoint.pk)
    return render(request, "hooks/endpoint_form.html", {"form": form, "endpoint": None})


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _manager(request)
    endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("created_by"), pk=pk)
    context = {
        "endpoint": endpoint,
        "deliveries": selectors.endpoint_deliveries(endpoint=endpoint),
        "limit": selectors.DELIVERY_LOG_LIMIT,
    }
    return render(request, "hooks/endpoint_detail.html", context)


@login_required
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    initial = {f: getattr(endpoint, f) for f in ("url", "description", "events", "is_active")}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint_update(endpoint=endpoint, by=user, data=form.cleaned_data)
        except KeelError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect("hooks:endpoint_detail", pk=endpoint.pk)
    return render(request, "hooks/endpoint_form.html", {"form": form, "endpoint": endpoint})


@require_POST
@login_required
def endpoint_active(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    active = request.POST.get("is_active") == "1"
    endpoint_update(endpoint=endpoint, by=user, data={"is_active": active})
    messages.success(
        request,
        "The endpoint is active again."
        if active
        else "The endpoint is deactivated: it gets "
        "no more events, and its pending retries are abandoned.",
    )
    return redirect("hooks:endpoint_detail", pk=endpoint.pk)


@require_POST
@login_required
def endpoint_secret(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint_secret_rotate(endpoint=endpoint, by=user)
    messages.success(request, "The secret is new: update it at the receiver.")
    return redirect("hooks:endpoint_detail", pk=endpoint.pk)


@require_POST
@login_required
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint_test_send(endpoint=endpoint, by=user)
    messages.success(request, "A test event is queued; the worker sends it in a moment.")
    return redirect("hooks:endpoint_detail", pk=endpoint.pk)


@require_POST
@login_required
def delivery_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    try:
        delivery_retry(delivery=delivery, by=user)
    except KeelError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The delivery is queued to be tried again now.")
    return redirect("hooks:endpoint_detail", pk=delivery.endpoint_id)
