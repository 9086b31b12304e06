import factory

from keel.scorecard.models import CaptureMethod, Metric, MetricStage, Unit


class MetricFactory(factory.django.DjangoModelFactory[Metric]):
    """A metric entered by hand, counted at the Lead step."""

    class Meta:
        model = Metric

    key = factory.Sequence(lambda n: f"custom_{n}")
    name = factory.Sequence(lambda n: f"Custom metric {n}")
    stage = MetricStage.LEAD
    unit = Unit.COUNT
    capture_method = CaptureMethod.MANUAL
