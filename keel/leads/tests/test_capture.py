"""Lead capture: the public form endpoint (/f/<token>/), submission_receive, the form pages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.core.exceptions import NotAllowed
from keel.crm.models import Company, Contact, FunnelStage
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.leads.capture import (
    Outcome,
    lead_form_create,
    lead_form_update,
    submission_receive,
)
from keel.leads.models import (
    DefinitionStatus,
    EventType,
    Handoff,
    LeadDefinition,
    LeadForm,
    MarketingEvent,
    Qualification,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
# Statements a submission may run (savepoints count), on its costliest paths; the
# budgets keep a cut in queries from silently growing back.
MAX_QUERIES_NEW = 53
MAX_QUERIES_KNOWN = 49
WORDING = "Yes, send me news about Acme's products. I can unsubscribe at any time."


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # the rate limits' counters


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def form(mia: User) -> LeadForm:
    return lead_form_create(
        by=mia, name="Demo request", campaign="spring", source="website", consent_text=WORDING
    )


def url(form: LeadForm) -> str:
    return reverse("leads:form_submit", args=[form.token])


def post(form: LeadForm, ip: str = "203.0.113.7", **data: str):
    data.setdefault("email", "dana@acme.example")
    return Client(enforce_csrf_checks=True).post(url(form), data, REMOTE_ADDR=ip)


def receive(form: LeadForm, **data: str) -> Outcome:
    data.setdefault("email", "dana@acme.example")
    return submission_receive(form=form, data=data, remote_addr="203.0.113.7", now=NOW)


def answer(response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Everything the visitor gets back, but the request's own id (new for each request,
    whoever sent it: it tells nothing)."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")
    return response.status_code, response.content, headers


# --- no enumeration ------------------------------------------------------------------------


def test_known_and_new_people_get_byte_identical_answers(form):
    ContactFactory(email="known@acme.example", company=CompanyFactory(domain="acme.example"))
    known = post(form, email="known@acme.example")
    new = post(form, email="new@acme.example")
    assert answer(known) == answer(new)
    assert known.status_code == 303
    assert known["Location"] == reverse("leads:form_thanks", args=[form.token])
    assert Client().get(known["Location"]).status_code == 200


def test_the_answer_goes_to_the_forms_thank_you_page(form, mia):
    lead_form_update(form=form, by=mia, data={"thank_you_url": "https://acme.example/thanks"})
    response = post(form)
    assert (response.status_code, response["Location"]) == (303, "https://acme.example/thanks")


def test_honeypot_stores_nothing_and_answers_the_same(form):
    stored = post(form, email="a@acme.example")
    trapped = post(form, email="b@acme.example", website="http://spam.example")
    assert answer(trapped) == answer(stored)
    assert not Contact.objects.filter(email="b@acme.example").exists()
    assert MarketingEvent.objects.count() == 1
    assert receive(form, email="c@acme.example", website="x") == Outcome.HONEYPOT


def test_the_sixth_submission_per_address_is_dropped_and_answered_the_same(form):
    answers = [answer(post(form, ip=f"198.51.100.{i}")) for i in range(6)]
    assert len(set(map(repr, answers))) == 1
    assert MarketingEvent.objects.count() == 5


def test_the_sixth_submission_per_remote_address_is_dropped_and_answered_the_same(form):
    answers = [answer(post(form, email=f"p{i}@acme.example")) for i in range(6)]
    assert len(set(map(repr, answers))) == 1
    assert MarketingEvent.objects.count() == 5
    assert not Contact.objects.filter(email="p5@acme.example").exists()
    assert post(form, email="p6@acme.example", ip="198.51.100.1").status_code == 303
    assert Contact.objects.filter(email="p6@acme.example").exists()  # another address


def test_the_limit_is_per_window(form):
    for _ in range(5):
        assert receive(form) == Outcome.STORED
    assert receive(form) == Outcome.LIMITED
    later = submission_receive(
        form=form, data={"email": "dana@acme.example"}, remote_addr="203.0.113.7",
        now=NOW + timedelta(hours=1),
    )  # fmt: skip
    assert later == Outcome.STORED


def test_an_invalid_address_is_refused_and_nothing_stored(form):
    response = post(form, email="not-an-address")
    assert response.status_code == 400
    assert b"check the form" in response.content
    assert not Contact.objects.exists()


def test_an_inactive_or_unknown_form_is_not_found(form, mia):
    assert Client().get(url(form)).status_code == 200
    lead_form_update(form=form, by=mia, data={"is_active": False})
    assert post(form).status_code == 404
    assert Client().get(url(form)).status_code == 404
    assert Client().post("/f/no-such-token/", {"email": "a@b.example"}).status_code == 404
    assert not Contact.objects.exists()


# --- dedupe, consent, inquiry --------------------------------------------------------------


def test_a_known_contact_is_found_by_email_whatever_its_case(form):
    dana = ContactFactory(email="Dana@Acme.example", first_name="", title="CFO", phone="")
    receive(form, email="dana@ACME.example", first_name="Dana", title="Intern", phone="+1 555")
    assert Contact.objects.count() == 1
    dana.refresh_from_db()
    # Blanks are filled; what sales entered stays.
    assert (dana.first_name, dana.title, dana.phone) == ("Dana", "CFO", "+1 555")
    assert MarketingEvent.objects.get().contact == dana


def test_new_people_of_one_domain_join_one_company(form):
    acme = CompanyFactory(name="Acme Inc.", domain="acme.example")
    receive(form, email="dana@acme.example", company="Acme")
    receive(form, email="eve@ACME.example", company="Something else")
    assert set(Contact.objects.values_list("company", flat=True)) == {acme.pk}
    receive(form, email="fay@globex.example")
    receive(form, email="gus@globex.example", company="Globex")
    globex = Company.objects.get(domain="globex.example")
    assert globex.name == "globex.example"
    assert globex.contacts.count() == 2


def test_free_mail_is_not_merged_into_one_company(form):
    receive(form, email="dana@gmail.com")
    receive(form, email="eve@gmail.com", company="Initech")
    receive(form, email="fay@outlook.com", company="initech")
    assert not Company.objects.filter(domain="gmail.com").exists()
    assert Contact.objects.get(email="dana@gmail.com").company is None
    initech = Company.objects.get(name="Initech")
    assert initech.domain == ""
    assert set(initech.contacts.values_list("email", flat=True)) == {
        "eve@gmail.com",
        "fay@outlook.com",
    }


def test_consent_records_the_wording_and_the_time(form, mia):
    receive(form, email="dana@acme.example", consent="1")
    receive(form, email="eve@acme.example")
    dana = Contact.objects.get(email="dana@acme.example")
    assert (dana.consent, dana.consent_text, dana.consent_at) == (True, WORDING, NOW)
    eve = Contact.objects.get(email="eve@acme.example")
    assert (eve.consent, eve.consent_text, eve.consent_at) == (False, "", None)
    # The wording at the moment of consent, not the form's later one.
    lead_form_update(form=form, by=mia, data={"consent_text": "Newer wording."})
    dana.refresh_from_db()
    assert dana.consent_text == WORDING


def test_a_known_contact_consenting_records_it(form):
    dana = ContactFactory(email="dana@acme.example", consent=False)
    receive(form, consent="on")
    dana.refresh_from_db()
    assert (dana.consent, dana.consent_text, dana.consent_at) == (True, WORDING, NOW)


def test_an_inquiry_form_sets_inquired_at_once_and_records_the_event(form):
    receive(form, page="https://acme.example/pricing")
    dana = Contact.objects.get()
    assert dana.inquired_at == NOW
    assert dana.funnel_stage == FunnelStage.LEAD
    later = NOW + timedelta(days=3)
    submission_receive(form=form, data={"email": "dana@acme.example"}, remote_addr="x", now=later)
    dana.refresh_from_db()
    assert dana.inquired_at == NOW
    events = list(MarketingEvent.objects.order_by("occurred_at"))
    assert [(e.type, e.campaign, e.source, e.contact_id) for e in events] == [
        (EventType.FORM_FILL, "spring", "website", dana.pk),
    ] * 2
    assert events[0].url == "https://acme.example/pricing"
    assert events[0].company_id == dana.company_id


def test_a_form_that_is_no_inquiry_leaves_inquired_at(mia):
    newsletter = lead_form_create(by=mia, name="Newsletter", counts_as_inquiry=False)
    receive(newsletter)
    assert Contact.objects.get().inquired_at is None
    assert MarketingEvent.objects.get().type == EventType.FORM_FILL


# --- permissions and CSRF ------------------------------------------------------------------


def test_a_salesperson_cannot_create_or_edit_a_form(form, alice):
    with pytest.raises(NotAllowed):
        lead_form_create(by=alice, name="Mine")
    with pytest.raises(NotAllowed):
        lead_form_update(form=form, by=alice, data={"name": "Mine"})
    client = Client()
    client.force_login(alice)
    assert client.get(reverse("leads:form_list")).status_code == 403
    assert client.post(reverse("leads:form_new"), {"name": "Mine"}).status_code == 403
    detail = reverse("leads:form_detail", args=[form.pk])
    assert client.post(detail, {"name": "Mine"}).status_code == 403
    form.refresh_from_db()
    assert form.name == "Demo request"


def test_anonymous_people_are_sent_to_sign_in(form):
    for name, args in (("form_list", []), ("form_new", []), ("form_detail", [form.pk])):
        response = Client().get(reverse(f"leads:{name}", args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_marketer_creates_a_form_and_gets_its_snippet(mia, mary):
    client = Client()
    client.force_login(mia)
    response = client.post(
        reverse("leads:form_new"),
        {"name": "Trial", "campaign": "c", "consent_text": "I <agree>", "counts_as_inquiry": "on"},
    )
    created = LeadForm.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("leads:form_detail", args=[created.pk])).content.decode()
    assert f"action=&quot;http://testserver/f/{created.token}/&quot;" in page
    assert "I &amp;lt;agree&amp;gt;" in page  # the wording escaped inside escaped HTML
    assert "name=&quot;website&quot;" in page
    assert "<script" not in page.split("</header>", 1)[1]
    client.force_login(mary)  # sales managers may too
    edit = client.post(
        reverse("leads:form_detail", args=[created.pk]),
        {"name": "Trial 2", "thank_you_url": "javascript:alert(1)"},
    )
    assert edit.status_code == 400
    created.refresh_from_db()
    assert created.name == "Trial"


def test_the_public_form_needs_no_csrf_token_but_every_other_post_does(form, mia):
    assert post(form).status_code == 303  # enforce_csrf_checks, no token
    client = Client(enforce_csrf_checks=True)
    client.force_login(mia)
    assert client.post(reverse("leads:form_new"), {"name": "x"}).status_code == 403
    assert not LeadForm.objects.filter(name="x").exists()

    exempt = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and getattr(p.callback, "csrf_exempt", False):
                exempt.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    # The API checks CSRF itself for session callers (keel/api/tests/test_auth.py). The
    # other exemption is a buyer's share-link beacon, which can only set how long a view
    # of that link lasted (keel/collateral/share_views.py).
    rest = sorted(p for p in exempt if not p.startswith("api/"))
    assert rest[0] == "f/<str:token>/" and len(rest) == 2
    assert rest[1].startswith("s/") and "/seen/" in rest[1]


def test_what_the_records_refuse_is_answered_the_same_and_says_nothing(form, monkeypatch):
    """A racing duplicate (here: the e-mail reported taken at each try) is logged and
    dropped; the visitor sees the same answer as anyone, never who holds the address."""
    from keel.core.exceptions import InvalidInput
    from keel.leads import capture

    ordinary = answer(post(form, email="first@acme.example", last_name="First"))

    def taken(**_: object) -> None:
        raise InvalidInput("Ada Lovelace already has the e-mail address taken@acme.example.")

    monkeypatch.setattr(capture, "contact_create", taken)
    response = post(form, email="taken@acme.example", last_name="Taken")
    assert answer(response) == ordinary
    assert b"Ada" not in response.content
    assert receive(form, email="taken2@acme.example", last_name="T") == Outcome.DROPPED


# --- what a submission costs -----------------------------------------------------------------


@pytest.fixture
def definition(db: None) -> LeadDefinition:
    """Live, as in production: every submission is judged by it."""
    return LeadDefinition.objects.create(
        version=1,
        status=DefinitionStatus.ACTIVE,
        activated_at=NOW,
        rules=[
            {"kind": "authority", "roles": ["decision_maker"]},
            {"kind": "inquiry"},
        ],
    )


@pytest.mark.usefixtures("memory_cache")
def test_a_new_person_at_a_new_company_is_judged_once(
    form, definition, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_QUERIES_NEW):
        outcome = receive(form, email="dana@fresh.example", company="Fresh", last_name="Doe")
    assert outcome == Outcome.STORED
    dana = Contact.objects.select_related("company").get()
    assert (dana.funnel_stage, dana.company.funnel_stage) == (FunnelStage.LEAD,) * 2
    assert (dana.first_campaign, dana.last_campaign) == ("spring", "spring")
    judged = Qualification.objects.get(contact=dana)  # once, not once per service
    assert (judged.definition, judged.qualified, judged.reasons) == (
        definition,
        False,
        [False, True],
    )


@pytest.mark.usefixtures("memory_cache")
def test_a_known_person_is_judged_once_and_handed_to_sales(
    form, definition, django_assert_max_num_queries
):
    dana = ContactFactory(email="dana@acme.example", first_name="", buying_role="decision_maker")
    # The inquiry qualifies her: the costliest known path, with the hand-off.
    with django_assert_max_num_queries(MAX_QUERIES_KNOWN):
        assert receive(form, first_name="Dana") == Outcome.STORED
    dana.refresh_from_db()
    assert (dana.first_name, dana.inquired_at, dana.funnel_stage) == (
        "Dana",
        NOW,
        FunnelStage.QUALIFIED_LEAD,
    )
    assert Qualification.objects.get(contact=dana).qualified
    assert Handoff.objects.get(contact=dana).campaign == "spring"
