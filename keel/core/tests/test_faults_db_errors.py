"""A database that cannot be written answers 503 with a message and keeps what it had.

The failures are real: SQLite's query_only (the file's read-only error) and max_page_count
(its disk-full error) on the test database itself. bench/faults runs the same against a
chmod-ed file, a full filesystem and a stopped PostgreSQL.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from django.utils.html import escape

from keel.accounts.models import TokenScope, User
from keel.accounts.services import token_create
from keel.activities.models import Activity
from keel.core.db_errors import FULL, READ_ONLY, UNAVAILABLE, server_error
from keel.pipeline.models import Deal

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's own pragmas make the failure"
)


@contextmanager
def read_only() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")


@contextmanager
def disk_full() -> Iterator[int]:
    """No page beyond those the database has; yields how many bytes still fit in its free
    pages (earlier tests' rolled-back rows leave some), so a write can be made to need more."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        free = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        page_size = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA max_page_count")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield free * page_size
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA max_page_count = {before}")


@sqlite_only
def test_a_write_to_a_read_only_database_is_a_clear_503_and_nothing_is_written(
    client: Client, alice: User, deal: Deal
) -> None:
    client.force_login(alice)
    before = Activity.objects.count()

    with read_only():
        response = client.post(f"/deals/{deal.pk}/log/", {"type": "call", "notes": "Called."})

    assert response.status_code == 503
    assert escape(READ_ONLY) in response.content.decode()
    assert b"Traceback" not in response.content
    assert "Retry-After" not in response  # waiting will not help: someone must act
    assert Activity.objects.count() == before


@sqlite_only
def test_reading_a_read_only_database_still_works(client: Client, alice: User, deal: Deal) -> None:
    client.force_login(alice)

    with read_only():
        assert client.get(f"/deals/{deal.pk}/").status_code == 200


@sqlite_only
@pytest.mark.django_db(transaction=True)  # the token's bookkeeping fails outside a savepoint
def test_the_api_answers_a_read_only_database_with_json(
    client: Client, alice: User, deal: Deal
) -> None:
    secret = token_create(user=alice, name="tests", scope=TokenScope.READ_WRITE).secret
    with read_only():
        response = client.post(
            f"/api/v1/deals/{deal.pk}/move",
            {"to_stage": "Qualify", "version": deal.version},
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )

    assert response.status_code == 503
    assert response.json() == {"detail": READ_ONLY}


@sqlite_only
def test_a_full_disk_is_a_clear_503_and_nothing_is_written(
    client: Client, alice: User, deal: Deal
) -> None:
    client.force_login(alice)
    before = Activity.objects.count()

    with disk_full() as room:  # a long note needs pages the database does not have
        notes = "x" * (room + 200_000)
        response = client.post(f"/deals/{deal.pk}/log/", {"type": "call", "notes": notes})

    assert response.status_code == 503
    assert escape(FULL) in response.content.decode()
    assert Activity.objects.count() == before


def test_a_lost_connection_raised_outside_a_view_is_a_503_with_retry_after(
    rf: RequestFactory,
) -> None:
    request = rf.get("/pipeline/")
    try:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
    except OperationalError:
        response = server_error(request)

    assert response.status_code == 503
    assert escape(UNAVAILABLE) in response.content.decode()
    assert response["Retry-After"] == "5"


def test_other_failures_stay_a_500(rf: RequestFactory) -> None:
    request = rf.get("/pipeline/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)

    assert response.status_code == 500
