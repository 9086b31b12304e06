"""Every answer carries a request id, and every log line written during the request
carries the same one."""

import json
import logging

import pytest
from django.test import Client
from django.urls import path

from keel.core.request_id import RequestIdFilter
from keel.urls import urlpatterns as keel_urls

log = logging.getLogger("keel.test")


def logging_view(request: object) -> object:
    from django.http import HttpResponse

    log.warning("something worth knowing")
    return HttpResponse("ok")


urlpatterns = [*keel_urls, path("log-something/", logging_view)]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_an_answer_carries_a_new_id_or_the_proxys() -> None:
    made = Client().get("/healthz")["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()
    echoed = Client().get("/healthz", headers={"X-Request-ID": "lb-7f3a.2"})
    assert echoed["X-Request-ID"] == "lb-7f3a.2"
    forged = Client().get("/healthz", headers={"X-Request-ID": "a\nSet-Cookie: x"})
    assert forged["X-Request-ID"] != "a\nSet-Cookie: x" and len(forged["X-Request-ID"]) == 32


def test_log_lines_of_a_request_carry_its_id_as_json(caplog: pytest.LogCaptureFixture) -> None:
    from pythonjsonlogger.json import JsonFormatter

    caplog.handler.addFilter(RequestIdFilter())
    response = Client().get("/log-something/", headers={"X-Request-ID": "req-42"})
    record = next(r for r in caplog.records if r.getMessage() == "something worth knowing")
    formatter = JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s")
    line = json.loads(formatter.format(record))
    assert line == {
        "levelname": "WARNING",
        "name": "keel.test",
        "message": "something worth knowing",
        "request_id": "req-42",
    }
    assert response["X-Request-ID"] == "req-42"
