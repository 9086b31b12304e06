"""What an erased contact was known by, so that it does not come back.

An erasure (crm/privacy.py) keeps the SHA-256 digest of the contact's e-mail address and
external id, never the values. A person added by hand or through the API, a contact's
e-mail changed to one of them, and an imported row with one, are refused with the erased
contact's number; the owner lifts the block on that contact's personal-data page (the
person came back and asked to be contacted). The public lead form is not blocked: a
person who fills it in is asking, themselves, to be in touch again.

The digest is not keyed: whoever holds an address can test whether it was erased, which
is what the list is for; from the table alone the addresses cannot be read back.
"""

import hashlib
from collections.abc import Iterator, Mapping

from keel.crm.models import Contact, ErasedIdentity

Kind = ErasedIdentity.Kind  # its values are the contact's fields they stand for


def identity_digest(kind: str, value: str) -> str:
    normalised = value.strip().casefold()
    return hashlib.sha256(f"{kind}:{normalised}".encode()).hexdigest()


def digests_of(values: Mapping[str, str | None]) -> Iterator[tuple[str, str]]:
    """(field, digest) for each of a contact's identifying fields that `values` fills."""
    for kind in Kind.values:
        value = values.get(kind) or ""
        if value.strip():
            yield kind, identity_digest(kind, value)


def identities_of(contact: Contact) -> list[ErasedIdentity]:
    """The unsaved block entries for what `contact` is known by now."""
    known = {"email": contact.email, "external_id": contact.external_id}
    return [
        ErasedIdentity(contact=contact, kind=kind, digest=digest)
        for kind, digest in digests_of(known)
    ]


def erased_contact_of(*, email: str = "", external_id: str = "") -> int | None:
    """The number of the erased contact known by this address or id, if any."""
    digests = [d for _, d in digests_of({"email": email, "external_id": external_id})]
    if not digests:
        return None
    found = ErasedIdentity.objects.filter(digest__in=digests).values_list("contact", flat=True)
    return found.first()


def erased_digests() -> dict[str, int]:
    """Every blocked digest and its erased contact's number (for an import's rows)."""
    return dict(ErasedIdentity.objects.values_list("digest", "contact"))


def refusal(contact_id: int) -> str:
    return (
        f"erased on request (contact #{contact_id}), so not added again; the owner can "
        "allow it on that contact's personal-data page"
    )
