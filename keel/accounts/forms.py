from django import forms

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
