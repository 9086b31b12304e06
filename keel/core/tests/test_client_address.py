"""Address-keyed limits see the client behind a trusted proxy, and only from one."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from keel.core.client_address import ClientAddressMiddleware, client_address

PROXY = "127.0.0.1"


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "client"),
    [
        # nginx on the same host appends the address it saw
        ("127.0.0.1", "203.0.113.7", PROXY, "203.0.113.7"),
        # what the client wrote itself, to the left, is never believed
        ("127.0.0.1", "10.9.9.9, 203.0.113.7", PROXY, "203.0.113.7"),
        # a chain of our own proxies: the last hop that is not one of them
        ("10.0.0.5", "198.51.100.2, 10.0.0.4", "10.0.0.0/8", "198.51.100.2"),
        # from anyone else the header is ignored
        ("198.51.100.9", "203.0.113.7", PROXY, "198.51.100.9"),
        # no header, or a malformed one: the socket's peer
        ("127.0.0.1", "", PROXY, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7, not-an-address", PROXY, "127.0.0.1"),
        # every hop trusted
        ("127.0.0.1", "203.0.113.7, 10.0.0.4", "*", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::99", "2001:db8::/64", "2001:db8::99"),
    ],
)
def test_the_client_is_the_last_hop_no_proxy_of_ours_wrote(
    peer: str, forwarded: str, proxies: str, client: str
) -> None:
    assert client_address(peer, forwarded, proxies) == client


def test_the_middleware_rewrites_remote_addr_and_keeps_the_proxys(settings) -> None:
    settings.KEEL_FORWARDED_ALLOW_IPS = PROXY
    seen: dict[str, str] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(request.META)
        return HttpResponse()

    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    ClientAddressMiddleware(view)(request)
    assert (seen["REMOTE_ADDR"], seen["KEEL_PROXY_ADDR"]) == ("203.0.113.7", PROXY)
