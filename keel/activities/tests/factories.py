from datetime import timedelta

import factory
from django.utils import timezone

from keel.accounts.tests.factories import UserFactory
from keel.activities.models import Task, TaskSource


class TaskFactory(factory.django.DjangoModelFactory[Task]):
    """An open ad-hoc task due at this time tomorrow."""

    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
    owner = factory.SubFactory(UserFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    source = TaskSource.AD_HOC
