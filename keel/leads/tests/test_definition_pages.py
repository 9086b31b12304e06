"""The lead definition's pages: everyone reads, marketers and sales managers draft,
approve and publish; a bad rule is named; the preview and the live counts show."""

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.crm.models import BuyingRole, Contact
from keel.crm.tests.factories import ContactFactory
from keel.leads.models import DefinitionStatus, LeadDefinition

pytestmark = pytest.mark.django_db

RULES = "- kind: authority\n  roles: [decision_maker]\n"


@pytest.fixture
def mia(db: None) -> User:
    return UserFactory(username="mia", role=Role.MARKETER)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_marketing_drafts_sales_approves_it_goes_live(mia: User, mary: User) -> None:
    ContactFactory(last_name="Ada", buying_role=BuyingRole.DECISION_MAKER)
    ContactFactory(last_name="Ben", buying_role=BuyingRole.USER)
    marketing = client_for(mia)
    page = marketing.post(reverse("lead_definitions:new"), {"rules": RULES, "notes": "v1"})
    draft = LeadDefinition.objects.get()
    assert page.status_code == 302 and page["Location"].endswith(f"/v{draft.version}/")
    detail = marketing.get(page["Location"]).content.decode()
    assert "The contact&#x27;s buying role is one of: decision maker." in detail
    assert "v1 qualifies 1 of 2 open leads; no definition is active yet." in detail
    marketing.post(reverse("lead_definitions:approve", args=[draft.version]))
    refused = marketing.post(reverse("lead_definitions:publish", args=[draft.version]), follow=True)
    assert "needs the approval of sales" in refused.content.decode()
    sales = client_for(mary)
    sales.post(reverse("lead_definitions:approve", args=[draft.version]))
    live = sales.post(reverse("lead_definitions:publish", args=[draft.version]), follow=True)
    assert "v1 is live: 2 contacts judged, 1 newly qualified" in live.content.decode()
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.ACTIVE
    qualified = Contact.objects.filter(qualified_at__isnull=False)
    assert list(qualified.values_list("last_name", flat=True)) == ["Ada"]
    listing = sales.get(reverse("lead_definitions:list")).content.decode()
    assert "Live: v1" in listing and "1 contact qualifies now" in listing


def test_a_bad_rule_is_named_and_nothing_saved(mia: User) -> None:
    page = client_for(mia).post(
        reverse("lead_definitions:new"), {"rules": "- kind: size\n", "notes": ""}
    )
    assert page.status_code == 400
    assert "rules[0]: a size rule needs min, max or both" in page.content.decode()
    broken = client_for(mia).post(reverse("lead_definitions:new"), {"rules": "- [", "notes": ""})
    assert broken.status_code == 400 and "not valid YAML" in broken.content.decode()
    assert not LeadDefinition.objects.exists()


@pytest.mark.parametrize("role", [Role.SALESPERSON, Role.SALES_SPECIALIST, Role.VIEWER])
def test_others_read_but_may_not_write(role: str, mia: User, mary: User) -> None:
    draft = client_for(mia).post(reverse("lead_definitions:new"), {"rules": RULES})
    assert draft.status_code == 302
    version = LeadDefinition.objects.get().version
    outsider = client_for(UserFactory(username=f"o-{role}", role=role))
    assert outsider.get(reverse("lead_definitions:list")).status_code == 200
    assert outsider.get(reverse("lead_definitions:detail", args=[version])).status_code == 200
    assert outsider.get(reverse("lead_definitions:new")).status_code == 403
    for name in ("approve", "publish", "edit"):
        answer = outsider.post(
            reverse(f"lead_definitions:{name}", args=[version]), {"rules": RULES}
        )
        assert answer.status_code == 403, name
    assert not LeadDefinition.objects.get().approvals.exists()


def test_signed_out_it_asks_to_sign_in(db: None) -> None:
    answer = Client().get(reverse("lead_definitions:list"))
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
