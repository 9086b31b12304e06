"""Keel's REST API: one NinjaAPI under /api/v1, each app's Router mounted on it.

Domain errors become HTTP here, once: InvalidInput 422 (with its problems), MoveBlocked
422 (with the unmet exit criteria), NotAllowed 403, StaleVersion 409, too many calls 429
(with Retry-After; keel/api/throttling.py counts them). Http404 (what the caller may not
see, or what does not exist) and request validation (422) keep django-ninja's own answers.
"""

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import Throttled

from keel.activities.api import activities, tasks
from keel.api.auth import SessionAuth, TokenAuth
from keel.api.throttling import AddressRateThrottle, CallerRateThrottle
from keel.core.exceptions import InvalidInput, NotAllowed, StaleVersion
from keel.crm.api import companies, contacts
from keel.leads.api import campaigns, events
from keel.pipeline.api import deals
from keel.pipeline.services import MoveBlocked
from keel.scorecard.api import scorecard

api = NinjaAPI(
    title="Keel API",
    version="1",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    throttle=[CallerRateThrottle(), AddressRateThrottle()],
    description=(
        "Authenticate with a personal token from /settings/tokens/ "
        "(`Authorization: Bearer keel_…`), or use this page signed in. "
        "Lists take `limit` (at most 100) and `offset`; writes of deals, companies and "
        "contacts carry the `version` they were based on and answer 409 when it is stale. "
        f"Each token may make {settings.KEEL_API_RATE_LIMIT} calls (a signed-in session "
        "as many); beyond that the answer is 429 with `Retry-After` in seconds."
    ),
)


@api.exception_handler(Throttled)
def throttled(request: HttpRequest, error: Throttled) -> HttpResponse:
    # django-ninja adds the Retry-After header to this answer.
    retry = f"; try again in {math.ceil(error.wait)} s" if error.wait is not None else ""
    detail = f"Too many calls: the limit is {settings.KEEL_API_RATE_LIMIT} per token{retry}."
    return api.create_response(request, {"detail": detail}, status=429)


@api.exception_handler(InvalidInput)
def invalid_input(request: HttpRequest, error: InvalidInput) -> HttpResponse:
    return api.create_response(
        request, {"detail": error.message, "errors": error.details}, status=422
    )


@api.exception_handler(MoveBlocked)
def move_blocked(request: HttpRequest, error: MoveBlocked) -> HttpResponse:
    unmet = [{"stage": u.stage, "kind": u.kind, "message": u.message} for u in error.unmet]
    body = {"detail": error.message, "errors": error.details, "unmet": unmet}
    return api.create_response(request, body, status=422)


@api.exception_handler(NotAllowed)
def not_allowed(request: HttpRequest, error: NotAllowed) -> HttpResponse:
    return api.create_response(request, {"detail": error.message}, status=403)


@api.exception_handler(StaleVersion)
def stale_version(request: HttpRequest, error: StaleVersion) -> HttpResponse:
    return api.create_response(
        request, {"detail": error.message, "errors": error.details}, status=409
    )


api.add_router("/companies", companies)
api.add_router("/contacts", contacts)
api.add_router("/deals", deals)
api.add_router("/activities", activities)
api.add_router("/tasks", tasks)
api.add_router("/events", events)
api.add_router("/campaigns", campaigns)
api.add_router("/scorecard", scorecard)
