"""The one place Keel speaks HTTP to a webhook receiver: a POST with a timeout, no redirects."""

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 10.0
ERROR_BODY_CHARS = 500  # of a refusing receiver's answer, kept in the delivery log


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None when no HTTP answer came (refused, timed out, bad TLS)
    error: str  # empty on success

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: following it would turn the POST into a
    GET (urllib's behaviour for 301-303) or send signed data to a URL nobody registered."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS
) -> PostResult:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked when the endpoint is saved
    try:
        with _opener.open(request, timeout=timeout) as response:
            return PostResult(status_code=response.status, error="")
    except urllib.error.HTTPError as error:
        answer = error.read(ERROR_BODY_CHARS).decode("utf-8", errors="replace").strip()
        message = f"HTTP {error.code} {error.reason}"
        return PostResult(
            status_code=error.code, error=f"{message}: {answer}" if answer else message
        )
    except urllib.error.URLError as error:
        return PostResult(status_code=None, error=f"Could not connect: {error.reason}")
    except TimeoutError:
        return PostResult(status_code=None, error=f"No answer within {timeout:g} seconds.")
    except (OSError, http.client.HTTPException) as error:
        return PostResult(status_code=None, error=f"The connection failed: {error!r}")
