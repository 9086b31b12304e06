"""The endpoint form: it parses input; the services decide what is allowed."""

from django import forms

from keel.hooks.models import SUBSCRIBABLE_EVENTS, WebhookEvent, validate_endpoint_url

EVENT_CHOICES = [(e.value, e.label) for e in SUBSCRIBABLE_EVENTS]


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        validators=[validate_endpoint_url],
        help_text="Where Keel POSTs the events, e.g. https://example.com/keel-webhook.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=[WebhookEvent.DEAL_STAGE_CHANGED],
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Inactive endpoints get nothing."
    )
