import factory
from django.contrib.auth.hashers import make_password

from keel.accounts.models import Role, Team, User

PASSWORD = "correct horse battery staple"
_HASH = make_password(PASSWORD, hasher="pbkdf2_sha256")  # once: argon2 per user is slow


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.SALESPERSON
    password = _HASH
