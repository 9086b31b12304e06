"""The security headers every answer carries with production settings (DEBUG off, as in
these tests), the Content Security Policy above all, and the templates that policy
depends on: no inline script, no inline event handler, no inline style."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User
from keel.accounts.tests.factories import PASSWORD
from keel.collateral.tests.test_sharing import shared
from keel.leads.capture import lead_form_create
from keel.pipeline.models import Deal

pytestmark = pytest.mark.django_db

KEEL = Path(__file__).resolve().parents[2]


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice in {header!r}"
        directives[name] = sources
    return directives


def test_a_signed_in_page_allows_only_keels_own_scripts_and_styles(alice: User) -> None:
    client = Client()
    client.force_login(alice)

    response = client.get(reverse("web:today"), secure=True)

    assert response.status_code == 200
    assert "Content-Security-Policy-Report-Only" not in response
    csp = policy(response["Content-Security-Policy"])
    assert csp == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    # No nonce crept in: every script of the page is a file of Keel's.
    for sources in csp.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'strict-dynamic'"} & set(sources)
        assert not any(source.startswith("'nonce-") for source in sources)
    page = response.content.decode()
    assert '"allowEval":false' in page and '"includeIndicatorStyles":false' in page


def test_a_production_answer_carries_the_other_security_headers(alice: User) -> None:
    client = Client()
    client.force_login(alice)

    response = client.get(reverse("pipeline:deal_list"), secure=True)

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_cookies_after_sign_in_are_secure_http_only_and_same_site(alice: User) -> None:
    client = Client()
    client.get(reverse("login"), secure=True)  # the form sets the CSRF cookie

    response = client.post(
        reverse("login"),
        {
            "username": alice.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        secure=True,
    )

    assert response.status_code == 302, "the sign-in did not go through"
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"


def test_the_buyers_share_page_may_embed_its_pdf_and_nothing_else(
    deal: Deal, alice: User, settings: object, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path  # type: ignore[attr-defined]
    link = shared(deal, alice)
    client = Client()

    page = client.get(f"/s/{link.token}/", secure=True)
    file = client.get(f"/s/{link.token}/file/", secure=True)

    assert page.status_code == file.status_code == 200
    page_csp = policy(page["Content-Security-Policy"])
    assert page_csp["object-src"] == ["'self'"]  # the <object> showing the PDF
    assert page_csp["frame-ancestors"] == ["'none'"]
    assert page_csp["script-src"] == ["'self'"]
    file_csp = policy(file["Content-Security-Policy"])
    assert file_csp["frame-ancestors"] == ["'self'"]  # shown inside the share page
    assert file["X-Frame-Options"] == "SAMEORIGIN"
    assert file_csp["script-src"] == ["'self'"]


def test_a_lead_forms_try_out_page_may_send_on_to_the_thank_you_site(olivia: User) -> None:
    plain = lead_form_create(by=olivia, name="Demo request", campaign="spring", source="web")
    thanked = lead_form_create(
        by=olivia,
        name="Guide",
        campaign="guide",
        source="web",
        thank_you_url="https://www.example.com/thanks/?from=keel",
    )
    client = Client()

    plain_csp = policy(client.get(f"/f/{plain.token}/")["Content-Security-Policy"])
    thanked_csp = policy(client.get(f"/f/{thanked.token}/")["Content-Security-Policy"])

    assert plain_csp["form-action"] == ["'self'"]
    assert thanked_csp["form-action"] == ["'self'", "https://www.example.com"]
    assert thanked_csp["frame-ancestors"] == ["'none'"]


def _settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import keel.settings as s; "
        "print(sorted(getattr(s, 'CONTENT_SECURITY_POLICY', {}) or {}), "
        "sorted(getattr(s, 'CONTENT_SECURITY_POLICY_REPORT_ONLY', {}) or {}))"
    )
    environment = {**os.environ, "KEEL_SECRET_KEY": "test-only", **env}
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False
    )


def test_the_policy_is_enforced_unless_report_only_is_asked_for() -> None:
    enforced = _settings_with(KEEL_DEBUG="1")
    reported = _settings_with(KEEL_CSP_REPORT_ONLY="1")
    refused = _settings_with(KEEL_CSP_REPORT_ONLY="maybe")

    assert enforced.stdout.strip() == "['DIRECTIVES'] []"  # in development too
    assert reported.stdout.strip() == "[] ['DIRECTIVES']"
    assert refused.returncode != 0
    assert "KEEL_CSP_REPORT_ONLY='maybe' is not a boolean" in refused.stderr


# --- the templates -------------------------------------------------------------------------

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
ALLOWED_SCRIPT = re.compile(r"""\bsrc=|\btype=["']application/json["']""", re.IGNORECASE)
INLINE_BEHAVIOUR = {
    "an inline event handler": re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE),
    "a javascript: address": re.compile(r"javascript:", re.IGNORECASE),
    "hx-on (htmx evaluates it)": re.compile(r"\bhx-on\b|\bhx-on:", re.IGNORECASE),
    "hx-vars (htmx evaluates it)": re.compile(r"\bhx-vars\b", re.IGNORECASE),
    "js: in hx-vals (htmx evaluates it)": re.compile(r"""hx-vals=["']\s*js:""", re.IGNORECASE),
    "an htmx trigger filter (htmx evaluates it)": re.compile(r"""hx-trigger=["'][^"']*\["""),
    "an inline style attribute": re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
}


def _templates() -> list[Path]:
    found = sorted(KEEL.glob("**/templates/**/*.html"))
    assert len(found) > 100, "the templates were not found"
    return found


def problems(source: str) -> list[str]:
    """What in one template's source the Content Security Policy would refuse."""
    found = [
        f"an inline script: {tag}"
        for tag in SCRIPT_TAG.findall(source)
        if not ALLOWED_SCRIPT.search(tag)
    ]
    for what, pattern in INLINE_BEHAVIOUR.items():
        found += [f"{what}: {hit.group(0)!r}" for hit in pattern.finditer(source)]
    return found


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    found = {
        str(path.relative_to(KEEL)): hits
        for path in _templates()
        if (hits := problems(path.read_text(encoding="utf-8")))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<script type="module">go()</script>',
        '<button onclick="go()">Go</button>',
        '<a href="javascript:go()">Go</a>',
        '<tr hx-on::before-swap="go()">',
        "<div hx-vals='js:{a: go()}'>",
        '<div hx-trigger="keyup[ctrlKey]">',
        '<p style="color:red">',
        "<style>p{}</style>",
    ],
)
def test_the_template_scan_catches_each_kind(source: str) -> None:
    assert problems(source)


def test_the_template_scan_lets_files_and_data_through() -> None:
    assert not problems('<script src="/static/web/keel.js" defer></script>')
    assert not problems('<script type="application/json" id="chart-1">{"a": 1}</script>')
    assert not problems('<button data-dismiss=".blocked" class="btn">Dismiss</button>')
