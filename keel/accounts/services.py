"""Writes to accounts: personal API tokens."""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from keel.accounts.models import ApiToken, TokenScope, User
from keel.core.exceptions import InvalidInput, NotAllowed
from keel.core.services import audit_record, validate

logger = logging.getLogger(__name__)

TOKEN_START = "keel_"  # noqa: S105 - the public marker of a Keel token, not a secret
PREFIX_LENGTH = len(TOKEN_START) + 8
# last_used_at is a hint for the person, not an audit trail: one write a minute at most.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the only time the plaintext exists outside the client


def _hash(secret: str) -> str:
    # The secret is 256 random bits: a fast hash cannot be brute-forced, a slow one would
    # only slow every API request.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(*, user: User, name: str, scope: str) -> NewToken:
    """A new token for `user`; its secret is in the result and nowhere else afterwards."""
    if not user.is_active:
        raise NotAllowed(f"{user} is not active and may not create API tokens.")
    name = name.strip()
    if not name:
        raise InvalidInput("Name the token after what will use it, e.g. “website forms”.")
    if scope not in TokenScope.values:
        raise InvalidInput(f"{scope!r} is not a scope; use one of: {', '.join(TokenScope.values)}.")
    secret = TOKEN_START + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        hashed_secret=_hash(secret),
        scope=scope,
    )
    validate(token)
    token.save()
    audit_record(actor=user, action="token.create", obj=token, summary=str(token))
    return NewToken(token=token, secret=secret)


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """Revoke `token` for good; revoking it again changes nothing."""
    if token.user_id != by.pk:
        raise NotAllowed(f"{by} may revoke only their own API tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=by, action="token.revoke", obj=token, summary=str(token))
    return token


def token_authenticate(*, secret: str) -> ApiToken | None:
    """The live token whose secret is `secret`, with its user, if that user is active.

    Notes the time of use, at most once a minute per token.
    """
    if not secret.startswith(TOKEN_START) or len(secret) < PREFIX_LENGTH:
        return None
    hashed = _hash(secret)
    candidates = ApiToken.objects.filter(
        prefix=secret[:PREFIX_LENGTH], revoked_at__isnull=True, user__is_active=True
    ).select_related("user")
    found = next((t for t in candidates if hmac.compare_digest(t.hashed_secret, hashed)), None)
    if found is None:
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_PRECISION:
        try:
            with transaction.atomic():
                ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        except DatabaseError:
            # Bookkeeping only: a database that cannot take writes just now (read-only,
            # full) still answers the token's reads.
            logger.warning("Could not note the use of API token %s", found.prefix)
    return found
