"""The client's own address behind a reverse proxy, for every limit keyed by address.

Behind nginx, REMOTE_ADDR is the proxy's, so the sign-in lockout, the password reset and
lead form limits and the API's anonymous budget would count the whole world as one
client. When the request comes from a trusted proxy (KEEL_FORWARDED_ALLOW_IPS, the same
list gunicorn trusts for the scheme), REMOTE_ADDR becomes the last address in
X-Forwarded-For that is not itself a trusted proxy: the one the outermost proxy saw.
Addresses further left were written by the client and are never believed. From anyone
else the header is ignored.
"""

import ipaddress
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(spec: str) -> tuple[Network, ...] | None:
    """The proxies named in `spec` (addresses or networks); None trusts every hop."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if "*" in items:
        return None
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _is_trusted(address: str, proxies: tuple[Network, ...] | None) -> bool:
    if not _is_address(address):
        return False
    ip = ipaddress.ip_address(address)
    return proxies is None or any(ip in network for network in proxies)


def client_address(remote_addr: str, forwarded_for: str, proxies: str) -> str:
    """Who sent the request, given the socket's peer and the X-Forwarded-For header."""
    trusted = _trusted(proxies)
    if not forwarded_for or not _is_trusted(remote_addr, trusted):
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops or not all(_is_address(hop) for hop in hops):
        return remote_addr  # a malformed chain: believe only the socket
    if trusted is None:
        return hops[0]  # every hop is trusted: the first is the client
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0]  # every hop a proxy of ours: the first one asked


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class ClientAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        peer = request.META.get("REMOTE_ADDR", "")
        address = client_address(
            peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), settings.KEEL_FORWARDED_ALLOW_IPS
        )
        if address != peer:
            request.META["KEEL_PROXY_ADDR"] = peer
            request.META["REMOTE_ADDR"] = address
        return self.get_response(request)
