import pytest
from django.test import RequestFactory

from keel.crm.models import Company
from keel.crm.tests.factories import CompanyFactory
from keel.web import lists

pytestmark = pytest.mark.django_db
SORTS = {"name": ("name",), "employees": ("employees",)}


def _listing(query: str, **kwargs):
    request = RequestFactory().get("/companies/" + query)
    return lists.listing(
        request=request, queryset=Company.objects.all(), sorts=SORTS, default="name", **kwargs
    )


def test_pages_sort_and_keep_the_filters_in_links():
    for n in range(7):
        CompanyFactory(name=f"C{n}", employees=100 - n)
    listing = _listing("?sort=-name&page=2&tier=gold", per_page=3)
    assert [c.name for c in listing.page] == ["C3", "C2", "C1"]
    assert listing.sorted_by("name") == "descending" and listing.sorted_by("employees") == ""
    assert listing.sort_url("name") == "?tier=gold&sort=name"  # asking again turns it round
    assert listing.url(page="3") == "?tier=gold&sort=-name&page=3"


def test_an_unknown_sort_falls_back_to_the_default():
    CompanyFactory(name="B")
    CompanyFactory(name="A")
    listing = _listing("?sort=password")
    assert listing.sort == "name" and [c.name for c in listing.page] == ["A", "B"]


def test_counting_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lists, "COUNT_CAP", 5)
    for n in range(8):
        CompanyFactory(name=f"C{n}")
    listing = _listing("?page=9", per_page=2)
    paginator = listing.page.paginator
    assert paginator.capped and paginator.count == 5 and paginator.num_pages == 3
    assert listing.page.number == 3  # out of range: the last page
    monkeypatch.setattr(lists, "COUNT_CAP", 8)
    assert not _listing("").page.paginator.capped


def test_a_search_stops_counting_sooner(monkeypatch: pytest.MonkeyPatch):
    """Counting a search reads every match through its text filters: past SEARCH_COUNT_CAP
    the person narrows the words rather than pages."""
    monkeypatch.setattr(lists, "COUNT_CAP", 6)
    monkeypatch.setattr(lists, "SEARCH_COUNT_CAP", 3)
    for n in range(5):
        CompanyFactory(name=f"C{n}")
    searched = _listing("?q=C", per_page=2).page.paginator
    assert searched.capped and searched.count == 3
    browsed = _listing("?tier=gold", per_page=2).page.paginator
    assert not browsed.capped and browsed.count == 5
