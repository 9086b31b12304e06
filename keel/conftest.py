"""The cast every test can use: two teams, their people, and the owner.

team North: manager Mary, salespeople Alice and Bob, specialist Sue, expert Ezra
team South: salesperson Sam
Olivia owns the business; Vera only views.
"""

from typing import Any

import pytest
from django.conf import settings as django_settings

from keel.accounts.models import Role, Team, User
from keel.accounts.tests.factories import TeamFactory, UserFactory
from keel.crm.models import Company
from keel.crm.tests.factories import CompanyFactory
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.selectors import version_stages
from keel.pipeline.services import deal_create


@pytest.fixture(autouse=True, scope="session")
def _plain_http() -> None:
    """Tests speak plain HTTP (test client, live server); production redirects to HTTPS.

    Session-wide and first, because the live server reads the setting once, at start.
    """
    django_settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True, scope="session")
def _media_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Uploaded files (the demo's library, a test's upload) land in a temporary folder,
    never in the checkout's media/; static files are looked for in another."""
    django_settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    # WhiteNoise serves collected static files from here (none are collected in tests).
    django_settings.STATIC_ROOT = tmp_path_factory.mktemp("static")


@pytest.fixture
def memory_cache(settings: Any) -> None:
    """The shared cache in memory, for query budgets: they count Keel's own statements, not
    those of the cache a deployment chose (the database by default: the rate limits)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }


@pytest.fixture(autouse=True)
def _fresh_stage_cache() -> None:
    """SQLite reuses the ids of rolled-back rows, so one test's cached stages must not leak."""
    version_stages.cache_clear()


@pytest.fixture
def north(db: None) -> Team:
    return TeamFactory(name="North")


@pytest.fixture
def south(db: None) -> Team:
    return TeamFactory(name="South")


@pytest.fixture
def mary(north: Team) -> User:
    user = UserFactory(username="mary", role=Role.SALES_MANAGER, team=north)
    north.manager = user
    north.save()
    return user


@pytest.fixture
def alice(north: Team, mary: User) -> User:
    return UserFactory(username="alice", role=Role.SALESPERSON, team=north)


@pytest.fixture
def bob(north: Team, mary: User) -> User:
    return UserFactory(username="bob", role=Role.SALESPERSON, team=north)


@pytest.fixture
def sue(north: Team) -> User:
    return UserFactory(username="sue", role=Role.SALES_SPECIALIST, team=north)


@pytest.fixture
def ezra(north: Team) -> User:
    return UserFactory(username="ezra", role=Role.SUBJECT_MATTER_EXPERT, team=north)


@pytest.fixture
def sam(south: Team) -> User:
    return UserFactory(username="sam", role=Role.SALESPERSON, team=south)


@pytest.fixture
def olivia(db: None) -> User:
    return UserFactory(username="olivia", role=Role.OWNER)


@pytest.fixture
def vera(db: None) -> User:
    return UserFactory(username="vera", role=Role.VIEWER)


@pytest.fixture
def acme(db: None) -> Company:
    return CompanyFactory(name="Acme", domain="acme.example")


@pytest.fixture
def new_business(db: None) -> SalesProcess:
    return SalesProcess.objects.get(name="New business")


@pytest.fixture
def deal(alice: User, acme: Company, new_business: SalesProcess) -> Deal:
    """Alice's new-business deal with Acme, in Qualify, with no evidence yet."""
    return deal_create(by=alice, name="Acme rollout", company=acme, process=new_business)
