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


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The six digits your authenticator app shows for Keel, or one of your "
        "recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class AppCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        help_text="The six digits the app now shows for Keel.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class DisableForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        required=False,
        help_text="From your authenticator app, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label="Or your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("code", "").strip() and not cleaned.get("password"):
            raise forms.ValidationError("Give a current code or your password.")
        return cleaned


class RequirementForm(forms.Form):
    required = forms.BooleanField(
        label="Require two-factor sign-in of everyone",
        required=False,
        help_text="Whoever has no authenticator app yet is asked to set one up at their next "
        "sign-in (signed-in people within a minute), before they can do anything else.",
    )
