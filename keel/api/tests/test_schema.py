"""schemathesis against the OpenAPI document: no 5xx, every answer as documented.

Generated requests go through Django's whole WSGI stack as the owner with a read-write
token, so every operation runs (writes included) on a small world: a deal, its company,
a contact, a task. Examples are few per operation to keep the suite fast.
"""

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keel.accounts.models import TokenScope
from keel.accounts.services import token_create
from keel.activities.tests.factories import TaskFactory
from keel.api.api import api
from keel.crm.tests.factories import ContactFactory

# By default the fuzzing phase only, a few examples per operation: the coverage phase's
# exhaustive boundary cases take a minute. A deeper run, e.g. before a release:
#   KEEL_API_FUZZ_EXAMPLES=200 KEEL_API_FUZZ_COVERAGE=1 pytest keel/api/tests/test_schema.py
EXAMPLES = int(os.environ.get("KEEL_API_FUZZ_EXAMPLES", "10"))
COVERAGE = os.environ.get("KEEL_API_FUZZ_COVERAGE", "") == "1"
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": COVERAGE}}})
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def app() -> WSGIHandler:
    # Made per test, not at import: the middleware reads the test settings when made.
    return WSGIHandler()


@pytest.fixture
def owner_token(deal, olivia, alice, settings) -> Iterator[str]:
    settings.ALLOWED_HOSTS = ["localhost"]  # schemathesis's WSGI client calls it so
    ContactFactory(company=deal.company)
    TaskFactory(owner=olivia, deal=deal)
    # As Django's test client does: a request must not close the test's connection (and
    # with it the transaction every example shares).
    request_started.disconnect(close_old_connections)
    try:
        yield token_create(user=olivia, name="schemathesis", scope=TokenScope.READ_WRITE).secret
    finally:
        request_started.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_as_documented(case, app, owner_token):
    case.call_and_validate(
        app=app, headers={"Authorization": f"Bearer {owner_token}"}, checks=CHECKS
    )
