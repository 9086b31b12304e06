import factory

from keel.hooks.models import SUBSCRIBABLE_EVENTS, WebhookEndpoint


class WebhookEndpointFactory(factory.django.DjangoModelFactory[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint

    url = factory.Sequence(lambda n: f"https://hooks{n}.example/keel")
    description = "CRM mirror"
    events = factory.LazyFunction(lambda: [str(e) for e in SUBSCRIBABLE_EVENTS])
    is_active = True
