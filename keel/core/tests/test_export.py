"""CSV and XLSX exports of the list pages: the page's filters, order and permissions,
every row, typed cells, and no formula a spreadsheet would run."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from keel.accounts.models import User
from keel.activities.tests.factories import TaskFactory
from keel.core.export import csv_lines, neutralised, xlsx_write
from keel.crm.models import Company, Tier
from keel.crm.tests.factories import CompanyFactory, ContactFactory
from keel.pipeline.models import Deal, SalesProcess
from keel.pipeline.services import deal_create

pytestmark = pytest.mark.django_db

LISTS = ["/companies/", "/contacts/", "/deals/", "/tasks/"]


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _xlsx(response):
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return workbook.worksheets[0]


def _column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


# --- the pieces -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+49 30 1234", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str):
    assert neutralised(text) == "'" + text


def test_plain_text_and_numbers_are_left_alone():
    line = next(iter(csv_lines(headers=["a"], rows=[]))).removeprefix("\ufeff")
    assert line == "a\r\n"
    lines = list(csv_lines(headers=["a", "b", "c"], rows=[["Acme", -5, Decimal("-1.50")]]))
    assert lines[1] == "Acme,-5,-1.50\r\n"


def test_xlsx_writes_formulas_as_text_and_keeps_types(tmp_path):
    at = timezone.make_aware(datetime(2026, 11, 24, 9, 30, 15))
    path = tmp_path / "x.xlsx"
    rows = [["=HYPERLINK(\"http://evil\")", Decimal("12.50"), 3, date(2026, 1, 2), at, None,
             "bell\x07"]]  # fmt: skip
    xlsx_write(file=path, headers=["text", "amount", "n", "day", "at", "none", "ctrl"], rows=rows)
    sheet = load_workbook(path).worksheets[0]
    cells = next(iter(sheet.iter_rows(min_row=2)))
    assert (cells[0].value, cells[0].data_type) == ('=HYPERLINK("http://evil")', "s")
    assert cells[1].value == 12.5 and cells[1].data_type == "n"
    assert cells[2].value == 3
    assert cells[3].value == datetime(2026, 1, 2) and cells[3].is_date
    assert cells[4].value == datetime(2026, 11, 24, 9, 30, 15) and cells[4].is_date
    assert cells[5].value is None
    assert cells[6].value == "bell"  # a control character XLSX cannot hold is dropped


# --- the pages --------------------------------------------------------------------------


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_needs_a_sign_in(client: Client, path: str, fmt: str):
    response = client.get(f"{path}export/{fmt}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("path", LISTS)
def test_an_unknown_format_is_not_found(client: Client, olivia: User, path: str):
    client.force_login(olivia)
    assert client.get(f"{path}export/pdf/").status_code == 404


@pytest.mark.parametrize("path", LISTS)
def test_each_list_links_to_its_exports_with_its_filters(client: Client, olivia: User, path):
    client.force_login(olivia)
    page = client.get(f"{path}?q=acme").content.decode()
    assert f'href="{path}export/csv/?' in page and f'href="{path}export/xlsx/?' in page
    assert "q=acme" in page.split(f"{path}export/csv/?", 1)[1].split('"', 1)[0]


def test_the_deal_export_keeps_the_filters_and_never_shows_another_teams_deals(
    client: Client, alice: User, bob: User, sam: User, acme: Company, new_business: SalesProcess
):
    deal_create(by=alice, name="Acme rollout", company=acme, process=new_business,
                amount=Decimal("1234.56"), expected_close=date(2027, 3, 31))  # fmt: skip
    deal_create(by=bob, name="Acme pilot", company=acme, process=new_business)
    other = CompanyFactory(name="Globex")
    deal_create(by=alice, name="Other thing", company=other, process=new_business)
    deal_create(by=sam, name="Acme south", company=acme, process=new_business)
    client.force_login(alice)

    rows = _csv(client.get("/deals/export/csv/?q=acme&sort=name&status=all"))
    assert _column(rows, "name") == ["Acme pilot", "Acme rollout"]  # not Sam's (South)
    assert _column(rows, "owner") == ["bob", "alice"]
    assert _column(rows, "amount") == ["", "1234.56"]
    assert _column(rows, "expected_close") == ["", "2027-03-31"]
    assert _column(rows, "company") == ["Acme", "Acme"]

    rows = _csv(client.get(f"/deals/export/csv/?owner={alice.pk}&sort=-name"))
    assert _column(rows, "name") == ["Other thing", "Acme rollout"]


def test_the_deal_export_as_xlsx_has_typed_cells(client: Client, alice, acme, new_business):
    deal_create(by=alice, name="=cmd|' /C calc'!A0", company=acme, process=new_business,
                amount=Decimal("1234.56"), expected_close=date(2027, 3, 31))  # fmt: skip
    client.force_login(alice)
    response = client.get("/deals/export/xlsx/")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="keel-deals-{today}.xlsx"'
    sheet = _xlsx(response)
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    row = dict(zip(header, next(sheet.iter_rows(min_row=2)), strict=True))
    assert row["name"].value == "=cmd|' /C calc'!A0" and row["name"].data_type == "s"
    assert row["amount"].value == 1234.56 and row["amount"].data_type == "n"
    assert row["expected_close"].value == datetime(2027, 3, 31) and row["expected_close"].is_date
    assert row["stage_entered_at"].is_date
    assert row["id"].value == Deal.objects.get().pk


def test_the_csv_export_neutralises_formulas(client: Client, vera: User):
    CompanyFactory(name='=HYPERLINK("http://evil","x")', domain="evil.example")
    client.force_login(vera)
    response = client.get("/companies/export/csv/")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="keel-companies-{today}.csv"'
    assert _column(_csv(response), "name") == ['\'=HYPERLINK("http://evil","x")']


def test_the_company_export_streams_every_row_with_the_filters(client: Client, vera: User):
    CompanyFactory.create_batch(520, tier=Tier.KEY)
    CompanyFactory.create_batch(3, tier=Tier.STANDARD)
    client.force_login(vera)
    response = client.get("/companies/export/csv/?tier=key&sort=-name")
    assert response.streaming
    rows = _csv(response)
    assert len(rows) == 521  # the header and every matching row, not one page of 50
    names = _column(rows, "name")
    assert names == sorted(names, reverse=True)
    assert set(_column(rows, "tier")) == {"key"}


def test_the_contact_export_keeps_the_search(client: Client, vera: User, acme: Company):
    ContactFactory(company=acme, first_name="Ann", last_name="Lee", email="ann@acme.example")
    ContactFactory(first_name="Bo", last_name="Ng")
    client.force_login(vera)
    rows = _csv(client.get("/contacts/export/csv/?q=acme"))
    assert _column(rows, "last_name") == ["Lee"]
    assert _column(rows, "company") == ["Acme"]
    assert _column(rows, "consent") == ["false"]
    sheet = _xlsx(client.get("/contacts/export/xlsx/?q=acme"))
    assert [c.value for c in next(sheet.iter_rows(min_row=2))][:3] == [
        int(_column(rows, "id")[0]),
        "Ann",
        "Lee",
    ]


def test_the_task_export_follows_the_tab(client: Client, alice: User, bob: User):
    TaskFactory(owner=alice, title="Mine, open")
    TaskFactory(owner=alice, title="Mine, done", done_at=timezone.now())
    TaskFactory(owner=bob, title="Bob's, open")
    client.force_login(alice)
    assert _column(_csv(client.get("/tasks/export/csv/")), "title") == ["Mine, open"]
    rows = _csv(client.get("/tasks/export/csv/?scope=team&sort=title"))
    assert _column(rows, "title") == ["Bob's, open", "Mine, open"]
    assert _column(rows, "owner") == ["bob", "alice"]
    rows = _csv(client.get("/tasks/export/csv/?when=done"))
    assert _column(rows, "title") == ["Mine, done"]


def test_the_export_runs_a_bounded_number_of_queries(
    client: Client, alice: User, acme: Company, new_business, django_assert_max_num_queries
):
    for n in range(30):
        deal_create(by=alice, name=f"Deal {n}", company=acme, process=new_business)
    client.force_login(alice)
    with django_assert_max_num_queries(6):
        rows = _csv(client.get("/deals/export/csv/"))
    assert len(rows) == 31
