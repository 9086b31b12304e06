"""Password reset, limited: KEEL_PASSWORD_RESET_LIMIT requests an hour for each mail
address and for each client address. Past the limit the answer is the same page as ever
("if an account has that address, a link is on its way"), but no mail goes out, so the
limit neither floods a mailbox nor tells whether an address has an account."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from keel.accounts.limits import limit_hit, limit_key

logger = logging.getLogger(__name__)
WINDOW = timedelta(hours=1)


def password_reset_allowed(*, email: str, address: str) -> bool:
    """Count a reset request for `email` from `address`; whether it may send mail."""
    limit: int = settings.KEEL_PASSWORD_RESET_LIMIT
    # Both counts grow on every request, so a refused burst still uses up the window.
    by_email = limit_hit(limit_key("reset-email", email.strip().lower()), window=WINDOW)
    by_address = limit_hit(limit_key("reset-address", address), window=WINDOW)
    return by_email <= limit and by_address <= limit


class LimitedPasswordResetView(PasswordResetView):
    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        request: HttpRequest = self.request
        address = str(request.META.get("REMOTE_ADDR", ""))
        if password_reset_allowed(email=form.cleaned_data["email"], address=address):
            return super().form_valid(form)
        logger.warning("password reset refused: over the limit for the address or the mail")
        return HttpResponseRedirect(self.get_success_url())
