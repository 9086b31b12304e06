import zoneinfo
from typing import Any

from django import forms
from django.conf import settings

from keel.accounts.models import TokenScope


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “website forms” or “reporting”."
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="Read-only tokens are refused on any change.",
    )


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Your time zone",
        required=False,
        help_text="Your days and due times (a day's work is due at 17:00 there).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        business = settings.TIME_ZONE
        self.fields["time_zone"].choices = [  # type: ignore[attr-defined]
            ("", f"The business's ({business})"),
            *((name, name) for name in sorted(zoneinfo.available_timezones())),
        ]
