"""Importing a file: check every row first, then write all of it in one transaction.

`import_run` reads the file (parse.py), maps its columns (presets.py), checks each row
(records.py), then matches every record against the database: an upsert keyed by
external id, then e-mail (contacts) or domain (companies), so the same file imported
twice changes nothing the second time. Bad rows are reported with line, column and
reason; while any row is bad nothing is written unless the user accepts skipping them.
New rows go in through the driver's bulk path (core/bulk.py) with ids reserved first;
changed rows through bulk_update; the whole batch commits or nothing does.

The work is one generator, `import_steps`, that yields a `Step` as it goes: `import_run`
drains it for callers that take progress as a callback (the CLI's bar), and the web page
streams each step to the browser while the request runs, with no worker or thread.
"""

from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db import DatabaseError, models, transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.permissions import manages
from keel.activities.models import Activity
from keel.core.bulk import ids_reserve, rows_load
from keel.core.exceptions import InvalidInput, StaleVersion
from keel.core.export import csv_lines
from keel.core.money import default_currency
from keel.core.services import audit_record
from keel.crm.erased import digests_of, erased_digests, refusal
from keel.crm.models import Company, Contact
from keel.crm.services import funnel_recompute
from keel.imports.access import ensure_can_import
from keel.imports.models import ImportRun, RunStatus
from keel.imports.parse import FileUnreadable, Problem, Table, table_read
from keel.imports.presets import mapping_resolve
from keel.imports.records import Record, StageInfo, lost_reason_map, records_check_steps
from keel.leads.icp import companies_score
from keel.pipeline.access import deals_editable_by
from keel.pipeline.models import (
    Deal,
    ProcessVersion,
    SalesProcess,
    Stage,
    StageChange,
    StageKind,
)
from keel.pipeline.selectors import process_current_version, version_stages

Progress = Callable[[str, int, int], None]
CHUNK = 5000  # rows per bulk write and per progress report
_IN = 900  # values per IN (…): under SQLite's limit on bound parameters
DEFAULT_PROCESS = "New business"
ERRORS_KEPT = 1000  # problems kept on the run; the rejected-rows file holds them all


@dataclass(frozen=True)
class ImportFile:
    name: str
    data: bytes


class Step(NamedTuple):
    """How far an import has got: `done` of `total` in `phase`; a total of 0 is not counted."""

    phase: str
    done: int
    total: int


Steps = Iterator[Step]


# --- entry points -----------------------------------------------------------------------


def import_upload(*, by: User, file: ImportFile, kind: str) -> ImportRun:
    """Keep an uploaded file on a new run, for the web flow to map, check and commit."""
    ensure_can_import(by, kind)
    try:
        table = table_read(name=file.name, data=file.data)
    except FileUnreadable as error:
        raise InvalidInput(str(error)) from None
    resolved = mapping_resolve(kind=kind, headers=table.headers)
    return ImportRun.objects.create(
        by=by,
        file_name=file.name[:255],
        kind=kind,
        preset=resolved.preset,
        mapping=resolved.mapping,
        status=RunStatus.UPLOADED,
        rows=len(table.rows),
        source=file.data,
    )


def import_run(
    *,
    by: User,
    file: ImportFile,
    kind: str,
    mapping: str | Mapping[str, str] = "",
    stage_map: Mapping[str, str] | None = None,
    process: SalesProcess | None = None,
    dry_run: bool = False,
    skip_bad: bool = False,
    date_format: str = "",
    run: ImportRun | None = None,
    progress: Progress | None = None,
) -> ImportRun:
    """`import_steps` to the end, telling `progress(phase, done, total)` of each step."""
    steps = import_steps(
        by=by,
        file=file,
        kind=kind,
        mapping=mapping,
        stage_map=stage_map,
        process=process,
        dry_run=dry_run,
        skip_bad=skip_bad,
        date_format=date_format,
        run=run,
    )
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            result: ImportRun = finished.value
            return result
        if progress is not None:
            progress(*step)


def import_steps(
    *,
    by: User,
    file: ImportFile,
    kind: str,
    mapping: str | Mapping[str, str] = "",
    stage_map: Mapping[str, str] | None = None,
    process: SalesProcess | None = None,
    dry_run: bool = False,
    skip_bad: bool = False,
    date_format: str = "",
    run: ImportRun | None = None,
) -> Generator[Step, None, ImportRun]:
    """Import `file` as `kind`, yielding its progress; the run records what happened.

    `mapping` is a preset name ("" to pick by the headers) or {field: header} over the
    best preset ("" as a header drops a field). A dry run checks and counts, writes no
    records. With bad rows, nothing is written unless `skip_bad`. Raises InvalidInput for
    a file that cannot be read or mapped, NotAllowed, and a DatabaseError that broke the
    write (after recording the run as failed; nothing of the batch stays).

    The generator's return value is the run. Closed before it finishes (the page streaming
    it was left), it rolls the batch back and records the run as interrupted.
    """
    ensure_can_import(by, kind)
    process = _process(kind, process)
    yield Step("Reading", 0, 0)
    try:
        table = table_read(name=file.name, data=file.data)
    except FileUnreadable as error:
        raise InvalidInput(str(error)) from None
    preset, overrides = (mapping, None) if isinstance(mapping, str) else ("", mapping)
    try:
        resolved = mapping_resolve(
            kind=kind, headers=table.headers, preset=preset, overrides=overrides
        )
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    version = process_current_version(process=process) if process else None
    if process and version is None:
        raise InvalidInput(f"The process {process} has no version yet: import one first.")
    stages = list(version_stages(version.pk)) if version else []
    checking = records_check_steps(
        table=table,
        kind=kind,
        resolved=resolved,
        stages=[StageInfo(s.name, s.kind) for s in stages],
        stage_map=stage_map or {},
        date_format=date_format,
    )
    total = len(table.rows)
    while True:
        try:
            done = next(checking)
        except StopIteration as finished:
            checked = finished.value
            break
        yield Step("Checking", done, total)
    yield Step("Matching", 0, 0)
    run = run or ImportRun(by=by, file_name=file.name[:255], kind=kind)
    run.preset, run.mapping, run.stage_map = (
        resolved.preset,
        resolved.mapping,
        dict(stage_map or {}),
    )
    run.process, run.date_format, run.skip_bad = process, date_format, skip_bad
    run.unknown_stages = sorted(checked.unknown_stages)
    context = _Context(by=by, run=run, version=version, stages=stages, now=timezone.now())
    plan = _PLANNERS[kind](checked.records, context)
    problems = sorted(checked.problems + plan.problems)
    rejected_lines = checked.rejected_lines | {p.line for p in plan.problems}
    _counts(run, table, plan, rejected_lines, problems)
    if dry_run or (rejected_lines and not skip_bad):
        run.status = RunStatus.DRY_RUN if dry_run else RunStatus.FAILED
        if not dry_run:
            run.failure = f"{run.rejected} bad row(s): nothing was written."
        run.finished_at = timezone.now()
        run.save()
        return run
    run.status = RunStatus.UPLOADED
    run.save()
    try:
        with transaction.atomic():
            yield from plan.write(context)
            yield Step("Finishing", 0, 0)
            if plan.company_ids:  # their fit, computed once a profile is saved
                companies_score(company_ids=plan.company_ids)
            funnel_recompute(contact_ids=plan.contact_ids, company_ids=plan.company_ids)
            run.status, run.finished_at, run.source = RunStatus.COMMITTED, timezone.now(), None
            run.save()
            audit_record(
                actor=by,
                action="import.commit",
                obj=run,
                summary=f"{run.file_name}: {run.created} created, {run.updated} updated, "
                f"{run.unchanged} unchanged, {run.rejected} rejected",
            )
    except DatabaseError as error:
        run.status, run.finished_at = RunStatus.FAILED, timezone.now()
        run.failure = f"The database refused the batch, so none of it was written: {error}"
        run.save()
        raise
    except StaleVersion as error:
        run.status, run.finished_at, run.failure = RunStatus.FAILED, timezone.now(), str(error)
        run.save()
        raise
    except GeneratorExit:
        # Closed mid-write: atomic has rolled the batch back as the exit went through it.
        run.status, run.finished_at = RunStatus.FAILED, timezone.now()
        run.failure = "The import was interrupted before it finished, so none of it was written."
        run.save()
        raise
    return run


def _process(kind: str, process: SalesProcess | None) -> SalesProcess | None:
    if kind != "deals" or process is not None:
        return process
    found = SalesProcess.objects.filter(name=DEFAULT_PROCESS).first() or (
        SalesProcess.objects.filter(is_active=True).order_by("id").first()
    )
    if found is None:
        raise InvalidInput("There is no sales process yet: import one first.")
    return found


def _counts(
    run: ImportRun, table: Table, plan: "_Plan", rejected: set[int], problems: list[Problem]
) -> None:
    run.rows = len(table.rows)
    run.created, run.updated, run.unchanged = plan.created, plan.updated, plan.unchanged
    run.rejected = len(rejected)
    run.errors = [[p.line, p.column, p.reason] for p in problems[:ERRORS_KEPT]]
    run.rejected_csv = rejected_rows_csv(table=table, problems=problems) if problems else ""


def rejected_rows_csv(*, table: Table, problems: Sequence[Problem]) -> str:
    """The rejected rows as they were, after their line, column and reason; opened in a
    spreadsheet to be fixed, so text that would run as a formula is neutralised."""
    by_line = dict(table.rows)
    rows = (
        [problem.line, problem.column, problem.reason, *by_line.get(problem.line, [])]
        for problem in problems
    )
    return "".join(csv_lines(headers=["line", "column", "reason", *table.headers], rows=rows))


# --- matching ---------------------------------------------------------------------------


@dataclass
class _Context:
    by: User
    run: ImportRun
    version: ProcessVersion | None
    stages: list[Stage]
    now: datetime
    _users: dict[str, int] | None = None
    _teams: dict[int, int | None] | None = None

    def may_act_for(self, user_id: int) -> bool:
        """Whether the importing user may record work under `user_id`'s name: their own,
        or someone they manage (the same rule as editing that person's deals)."""
        if user_id == self.by.pk:
            return True
        if self._teams is None:
            self._teams = dict(User.objects.values_list("pk", "team_id"))
        return manages(self.by, User(pk=user_id, team_id=self._teams.get(user_id)))

    def owner_id(self, value: str | None) -> int:
        """The user an e-mail, name or username names; the importing user if none does."""
        if self._users is None:
            self._users = {}
            for pk, username, email, first, last in User.objects.values_list(
                "pk", "username", "email", "first_name", "last_name"
            ):
                for key in (username, email, f"{first} {last}".strip()):
                    if key:
                        self._users.setdefault(key.casefold(), pk)
        if value:
            found = self._users.get(value.strip().casefold())
            if found is not None:
                return found
        return self.by.pk


@dataclass
class _Plan:
    problems: list[Problem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    contact_ids: set[int] = field(default_factory=set)
    company_ids: set[int] = field(default_factory=set)
    steps: list[Callable[[_Context], Steps]] = field(default_factory=list)

    def bad(self, record: Record, column: str, reason: str) -> None:
        for line in record.lines or [record.line]:
            self.problems.append(Problem(line, column, reason))

    def write(self, context: _Context) -> Steps:
        for step in self.steps:
            yield from step(context)


class _Companies:
    """Every company by external id, domain and name, with the ones this import adds."""

    def __init__(self) -> None:
        self.by_external: dict[str, int] = {}
        self.by_domain: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        for pk, external, domain, name in Company.objects.values_list(
            "pk", "external_id", "domain", "name"
        ):
            self._index(pk, external, domain, name)
        self.new: list[tuple[Any, ...]] = []
        self.ids: list[int] = []
        self.new_fields = ["id", "name", "domain", "external_id", "owner_id"]

    def _index(self, pk: int, external: str | None, domain: str, name: str) -> None:
        if external:
            self.by_external[external] = pk
        if domain:
            self.by_domain[domain.casefold()] = pk
        self.by_name.setdefault(name.casefold(), pk)

    def find(self, *, external: str = "", domain: str = "", name: str = "") -> int | None:
        if external and external in self.by_external:
            return self.by_external[external]
        if domain and domain.casefold() in self.by_domain:
            return self.by_domain[domain.casefold()]
        if name:
            return self.by_name.get(name.casefold())
        return None

    def find_or_add(self, *, values: Mapping[str, Any], owner_id: int) -> int | None:
        """The company a deal or contact names, added when only its name is new."""
        external = values.get("company_external_id", "")
        domain = values.get("company_domain", "")
        name = values.get("company", "")
        found = self.find(external=external, domain=domain, name=name)
        if found is not None or not name:
            return found
        placeholder = -1 - len(self.new)  # the real id is reserved when writing
        self.new.append((placeholder, name, domain, external or None, owner_id))
        self._index(placeholder, external, domain, name)
        return placeholder

    def real(self, pk: int) -> int:
        """A company's id, for one this import adds its id in the database."""
        return self.ids[-1 - pk] if pk < 0 else pk

    def insert_new(self, context: _Context) -> Steps:
        self.ids = ids_reserve(Company, len(self.new))
        if self.new:
            yield Step("Writing new companies", 0, len(self.new))
            now = context.now
            rows = [(pk, *row[1:], now, now) for pk, row in zip(self.ids, self.new, strict=True)]
            _load(Company, [*self.new_fields, "created_at", "updated_at"], rows)


def _load(model: type[models.Model], fields: list[str], rows: Sequence[Sequence[Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        rows_load(model=model, fields=fields, rows=rows[start : start + CHUNK])


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _IN):
        yield values[start : start + _IN]


def _changed(obj: models.Model, values: Mapping[str, Any], fields: Iterable[str]) -> list[str]:
    """Set the given fields from `values` where they differ; the names of those changed."""
    changed = []
    for name in fields:
        if name in values and getattr(obj, name) != values[name]:
            setattr(obj, name, values[name])
            changed.append(name)
    return changed


def _save_changed(
    model: type[models.Model], objects: list[Any], fields: set[str], now: datetime
) -> None:
    if objects:
        for obj in objects:
            obj.updated_at = now
        model._default_manager.bulk_update(objects, [*sorted(fields), "updated_at"], batch_size=500)


# --- companies --------------------------------------------------------------------------

COMPANY_FIELDS = ("name", "domain", "industry", "employees", "region", "external_id")


def _companies_plan(records: list[Record], context: _Context) -> _Plan:
    plan = _Plan()
    index = _Companies()
    new: list[tuple[Any, ...]] = []
    changed: list[Company] = []
    changed_fields: set[str] = set()
    matched: dict[int, Record] = {}
    for record in records:
        values = record.values
        pk = index.find(external=values.get("external_id", ""), domain=values.get("domain", ""))
        if pk is None and not values.get("external_id") and not values.get("domain"):
            pk = index.find(name=values["name"])  # nothing better to know it by
        if pk is None:
            new.append((record, context.owner_id(values.get("owner"))))
        elif pk in matched:
            plan.bad(record, "name", f"the same company as line {matched[pk].line}")
        else:
            matched[pk] = record
    taken_domains = index.by_domain
    for pk, record in matched.items():
        domain = record.values.get("domain", "")
        if domain and taken_domains.get(domain) not in (None, pk):
            plan.bad(record, "domain", f"{domain} belongs to another company")
    for pks in _chunks(list(matched)):
        for company in Company.objects.filter(pk__in=pks):
            record = matched[company.pk]
            values = dict(record.values)
            if "owner" in values:
                values["owner_id"] = context.owner_id(values["owner"])
            names = _changed(company, values, (*COMPANY_FIELDS, "owner_id"))
            if names:
                changed.append(company)
                changed_fields.update(names)
    for record, _ in new:
        domain = record.values.get("domain", "")
        if domain and domain in taken_domains:
            plan.bad(record, "domain", f"{domain} belongs to another company")
    plan.created, plan.updated = len(new), len(changed)
    plan.unchanged = len(matched) - len(changed)

    def write(context: _Context) -> Steps:
        yield Step("Writing companies", 0, len(new))
        ids = ids_reserve(Company, len(new))
        now = context.now
        rows = [
            (
                pk,
                r.values["name"],
                r.values.get("domain", ""),
                r.values.get("industry", ""),
                r.values.get("employees"),
                r.values.get("region", ""),
                r.values.get("external_id") or None,
                owner,
                now,
                now,
            )
            for pk, (r, owner) in zip(ids, new, strict=True)
        ]
        fields = ["id", "name", "domain", "industry", "employees", "region", "external_id"]
        _load(Company, [*fields, "owner_id", "created_at", "updated_at"], rows)
        _save_changed(Company, changed, changed_fields, now)
        plan.company_ids.update(ids)
        plan.company_ids.update(c.pk for c in changed)

    plan.steps.append(write)
    return plan


# --- contacts ---------------------------------------------------------------------------

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "external_id")


def _erased(record: Record, erased: dict[str, int], plan: _Plan) -> bool:
    """Whether a new row is a contact erased on request (crm/erased.py); said if so."""
    for column, digest in digests_of(record.values):
        if digest in erased:
            plan.bad(record, column, refusal(erased[digest]))
            return True
    return False


def _contacts_plan(records: list[Record], context: _Context) -> _Plan:
    plan = _Plan()
    companies = _Companies()
    by_external: dict[str, int] = {}
    by_email: dict[str, int] = {}
    for pk, external, email in Contact.objects.values_list("pk", "external_id", "email"):
        if external:
            by_external[external] = pk
        if email:
            by_email[email.casefold()] = pk
    erased = erased_digests()
    new: list[tuple[Record, int, int | None]] = []
    matched: dict[int, Record] = {}
    for record in records:
        values = record.values
        found = by_external.get(values.get("external_id", "")) or by_email.get(
            values.get("email", "")
        )
        if found is None and _erased(record, erased, plan):
            continue
        owner = context.owner_id(values.get("owner"))
        company = None
        if values.get("company") or values.get("company_external_id"):
            company = companies.find_or_add(values=values, owner_id=owner)
            if company is None:
                plan.bad(record, "company_external_id", "no company with this id in Keel")
                continue
        values["company_id"] = company
        if found is None:
            new.append((record, owner, company))
        elif found in matched:
            plan.bad(record, "email", f"the same contact as line {matched[found].line}")
        else:
            if "owner" in values:
                values["owner_id"] = owner
            matched[found] = record
    changed: list[Contact] = []
    changed_fields: set[str] = set()
    for pks in _chunks(list(matched)):
        for contact in Contact.objects.filter(pk__in=pks):
            values = matched[contact.pk].values
            fields: tuple[str, ...] = (*CONTACT_FIELDS, "owner_id")
            if values.get("company_id") is not None:
                fields = (*fields, "company_id")
            names = _changed(contact, values, fields)
            if names:
                changed.append(contact)
                changed_fields.update(names)
    for record, _, _ in new:
        email = record.values.get("email", "")
        if email and email in by_email:
            plan.bad(record, "email", f"{email} belongs to another contact")
    plan.created, plan.updated = len(new), len(changed)
    plan.unchanged = len(matched) - len(changed)

    def write(context: _Context) -> Steps:
        yield from companies.insert_new(context)
        yield Step("Writing contacts", 0, len(new))
        ids = ids_reserve(Contact, len(new))
        now = context.now
        rows = [
            (
                pk,
                *(r.values.get(name, "") for name in CONTACT_FIELDS[:-1]),
                r.values.get("external_id") or None,
                None if company is None else companies.real(company),
                owner,
                now,
                now,
            )
            for pk, (r, owner, company) in zip(ids, new, strict=True)
        ]
        fields = [*CONTACT_FIELDS, "company_id", "owner_id", "created_at", "updated_at"]
        _load(Contact, ["id", *fields], rows)
        for contact in changed:
            if contact.company_id is not None:
                contact.company_id = companies.real(contact.company_id)
        _save_changed(Contact, changed, changed_fields, now)
        plan.contact_ids.update(ids)
        plan.contact_ids.update(c.pk for c in changed)
        plan.company_ids.update(companies.real(c) for _, _, c in new if c is not None)
        plan.company_ids.update(c.company_id for c in changed if c.company_id is not None)

    plan.steps.append(write)
    return plan


# --- deals ------------------------------------------------------------------------------

DEAL_FIELDS = ("name", "amount", "currency", "expected_close", "next_step", "source", "campaign")
_DEAL_COLUMNS = [
    "id",
    "name",
    "company_id",
    "owner_id",
    "process_id",
    "process_version_id",
    "stage_id",
    "status",
    "amount",
    "currency",
    "expected_close",
    "source",
    "campaign",
    "next_step",
    "lost_reason",
    "lost_note",
    "stage_entered_at",
    "closed_at",
    "updated_by_id",
    "external_id",
    "created_at",
    "updated_at",
]
_CHANGE_COLUMNS = [
    "id",
    "deal_id",
    "process_version_id",
    "from_stage_id",
    "to_stage_id",
    "at",
    "lost_reason",
]  # by and evidence keep their defaults (no one moved it in Keel; nothing was evaluated)


def _dated(
    history: list[tuple[datetime | None, str]], start: datetime
) -> list[tuple[datetime, str]]:
    """Every stay with a date: an undated one starts when the one before it did."""
    dated = []
    previous = start
    for at, name in history:
        previous = at or previous
        dated.append((previous, name))
    return dated


def _deals_plan(records: list[Record], context: _Context) -> _Plan:
    plan = _Plan()
    assert context.version is not None  # noqa: S101 - _process gives deals a process
    version = context.version
    stages = {s.name: s for s in context.stages}
    process_id = version.process_id
    currency = default_currency()
    companies = _Companies()
    externals = [r.values["external_id"] for r in records if r.values.get("external_id")]
    existing: dict[str, int] = {}
    for chunk in _chunks(externals):
        for external_id, deal_pk in Deal.objects.filter(external_id__in=chunk).values_list(
            "external_id", "pk"
        ):
            existing[external_id or ""] = deal_pk
    unnamed = [r for r in records if not r.values.get("external_id")]
    by_name: dict[tuple[str, int], int] = {}
    if unnamed:
        for deal_pk, name, company_id in Deal.objects.filter(external_id__isnull=True).values_list(
            "pk", "name", "company_id"
        ):
            by_name.setdefault((name.casefold(), company_id), deal_pk)
    new_deals: list[tuple[Any, ...]] = []
    new_changes: list[tuple[int, Stage | None, Stage, datetime, str]] = []  # deal index based
    matched: dict[int, Record] = {}
    now, by_id = context.now, context.by.pk
    for record in records:
        values = record.values
        external = values.get("external_id", "")
        pk = existing.get(external) if external else None
        owner = context.owner_id(values.get("owner"))
        if not context.may_act_for(owner):
            plan.bad(record, "owner", f"you may not give deals to {values.get('owner')}")
            continue
        if pk is None:
            company = companies.find_or_add(values=values, owner_id=owner)
            if company is None:
                column = "company_external_id" if values.get("company_external_id") else "company"
                plan.bad(
                    record,
                    column,
                    "the deal's company is not in Keel and the file has no name for it",
                )
                continue
            if not external:
                pk = by_name.get((values.get("name", "").casefold(), company))
        if pk is not None:
            if pk in matched:
                plan.bad(record, "external_id", f"the same deal as line {matched[pk].line}")
            else:
                matched[pk] = record
            continue
        if not values.get("name"):
            plan.bad(record, "name", "a deal new to Keel needs a name")
            continue
        start = (
            values.get("created_at") or next((at for at, _ in record.history if at), None) or now
        )
        history = _dated(record.history, start)
        last_at, last_name = history[-1]
        stage = stages[last_name]
        status = stage.kind
        lost_text = values.get("lost_reason", "")
        lost_reason = (
            (lost_reason_map(lost_text) if lost_text else "other")
            if status == StageKind.LOST
            else ""
        )
        index = len(new_deals)
        new_deals.append(
            (
                index,
                values["name"],
                company,
                owner,
                process_id,
                version.pk,
                stage.pk,
                status,
                values.get("amount"),
                values.get("currency") or currency,
                values.get("expected_close"),
                values.get("source", ""),
                values.get("campaign", ""),
                values.get("next_step", ""),
                lost_reason,
                lost_text if status == StageKind.LOST else "",
                last_at,
                last_at if status != StageKind.OPEN else None,
                by_id,
                external or None,
                min(start, history[0][0]),
                now,
            )
        )
        previous: Stage | None = None
        for at, name in history:
            to = stages[name]
            new_changes.append(
                (index, previous, to, at, lost_reason if to.kind == StageKind.LOST else "")
            )
            previous = to
    _editable_only(matched, context, plan)
    updates = _deals_updates(matched, context, plan, companies)
    plan.created = len(new_deals)

    def write(context: _Context) -> Steps:
        yield from companies.insert_new(context)
        real = companies.real
        ids = ids_reserve(Deal, len(new_deals))
        total = len(new_deals)
        for start in range(0, total, CHUNK):
            yield Step("Writing deals", start, total)
            chunk = new_deals[start : start + CHUNK]
            rows_load(
                model=Deal,
                fields=_DEAL_COLUMNS,
                rows=[(ids[row[0]], row[1], real(row[2]), *row[3:]) for row in chunk],
            )
        yield Step("Writing deals", total, total)
        change_rows = [
            (deal, version.pk, frm.pk if frm else None, to.pk, at, lost)
            for deal, frm, to, at, lost in new_changes
        ]
        change_ids = ids_reserve(StageChange, len(change_rows) + len(updates.changes))
        total = len(change_rows)
        for start in range(0, total, CHUNK):
            yield Step("Writing stage history", start, total)
            chunk = change_rows[start : start + CHUNK]
            rows_load(
                model=StageChange,
                fields=_CHANGE_COLUMNS,
                rows=[
                    (change_ids[start + i], ids[row[0]], *row[1:]) for i, row in enumerate(chunk)
                ],
            )
        yield Step("Writing stage history", total, total)
        updates.write(change_ids[len(change_rows) :], context, real)
        plan.company_ids.update(real(row[2]) for row in new_deals)
        plan.company_ids.update(updates.company_ids)

    plan.steps.append(write)
    return plan


@dataclass
class _DealUpdates:
    deals: list[Deal] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    changes: list[tuple[int, int, int | None, int, datetime, str]] = field(default_factory=list)
    company_ids: set[int] = field(default_factory=set)

    def write(
        self,
        ids: list[int],
        context: _Context,
        real: Callable[[int], int],
    ) -> None:
        rows = [
            (pk, deal, version, frm, to, at, lost)
            for pk, (deal, version, frm, to, at, lost) in zip(ids, self.changes, strict=True)
        ]
        _load(StageChange, _CHANGE_COLUMNS, rows)
        if self.deals:
            _unchanged_since_planned(self.deals)
            for deal in self.deals:
                deal.updated_at, deal.updated_by_id = context.now, context.by.pk
                deal.company_id = real(deal.company_id)
                deal.version += 1
            fields = [*sorted(self.fields), "updated_at", "updated_by", "version"]
            Deal.objects.bulk_update(self.deals, fields, batch_size=500)


def _unchanged_since_planned(deals: list[Deal]) -> None:
    """Lock the deals an import updates; refuse the batch if any changed since it was planned
    (someone saved one meanwhile): their change would be overwritten, never merged."""
    planned = {deal.pk: deal.version for deal in deals}
    current: dict[int, int] = {}
    for pks in _chunks(list(planned)):
        locked = Deal.objects.select_for_update().filter(pk__in=pks)
        current.update(locked.values_list("pk", "version"))
    changed = [pk for pk, version in planned.items() if current.get(pk) != version]
    if changed:
        raise StaleVersion(
            f"{len(changed)} deal(s) in the file were changed in Keel while the import ran "
            f"(ids {', '.join(map(str, changed[:10]))}). Nothing was written: run it again."
        )


def _moves(
    history: list[tuple[datetime | None, str]],
    deal: Deal,
    known: set[tuple[str, datetime]],
    now: datetime,
) -> list[tuple[datetime, str]]:
    """The stage changes to append to a deal Keel has, from its history in the file.

    None when the file's current stage is the deal's; else the file's dated stays after
    the deal's last move that Keel lacks, ending in the file's current stage (dated now
    when the file gives no date). A file older than Keel's last move changes nothing.
    """
    last_at, last = history[-1]
    if last == deal.stage.name:
        return []
    entered = deal.stage_entered_at
    moves = [(at, name) for at, name in history if at and at > entered and (name, at) not in known]
    if not moves or moves[-1][1] != last:
        if last_at is not None and last_at <= entered:
            return []
        moves.append((last_at or now, last))
    return [(at, name) for at, name in moves if at is not None]


NOT_YOURS = "this deal belongs to someone whose deals you may not change"


def _editable_only(matched: dict[int, Record], context: _Context, plan: _Plan) -> None:
    """Drop from `matched` (as bad rows) the deals the importing user may not change."""
    editable: set[int] = set()
    for pks in _chunks(list(matched)):
        editable.update(
            deals_editable_by(context.by).filter(pk__in=pks).values_list("pk", flat=True)
        )
    for pk in [pk for pk in matched if pk not in editable]:
        record = matched.pop(pk)
        plan.bad(
            record, "external_id", "this deal belongs to someone whose deals you may not change"
        )


def _deals_updates(
    matched: dict[int, Record], context: _Context, plan: _Plan, companies: _Companies
) -> _DealUpdates:
    """What a re-import changes on deals Keel has: their fields, and the stage changes the
    file has that Keel's history lacks (appended; the history is never edited)."""
    updates = _DealUpdates()
    assert context.version is not None  # noqa: S101
    version = context.version
    stages = {s.name: s for s in context.stages}
    histories: dict[int, set[tuple[str, datetime]]] = defaultdict(set)
    deals: dict[int, Deal] = {}
    for pks in _chunks(list(matched)):
        for deal in Deal.objects.filter(pk__in=pks).select_related("stage"):
            deals[deal.pk] = deal
        for deal_id, name, at in StageChange.objects.filter(deal_id__in=pks).values_list(
            "deal_id", "to_stage__name", "at"
        ):
            histories[deal_id].add((name, at))
    for pk, record in matched.items():
        deal, values = deals[pk], dict(record.values)
        if deal.process_id != version.process_id:
            plan.bad(record, "stage", f"the deal is in another process ({deal.process_id})")
            continue
        if "owner" in values:
            values["owner_id"] = context.owner_id(values["owner"])
        if values.get("company") or values.get("company_external_id"):
            company = companies.find(
                external=values.get("company_external_id", ""), name=values.get("company", "")
            )
            if company is not None:
                values["company_id"] = company
        names = _changed(deal, values, (*DEAL_FIELDS, "owner_id", "company_id"))
        moved_to = _moves(record.history, deal, histories[pk], context.now)
        previous, start, moved = deal.stage, deal.stage_entered_at, False
        for at, name in moved_to:
            stage = stages[name]
            if stage.pk == previous.pk:
                continue
            lost = ""
            if stage.kind == StageKind.LOST:
                lost = lost_reason_map(values.get("lost_reason", ""))
            updates.changes.append((pk, version.pk, previous.pk, stage.pk, at, lost))
            previous, start, moved = stage, at, True
        if moved:
            deal.stage, deal.process_version_id = previous, version.pk
            deal.stage_entered_at, deal.status = start, previous.kind
            deal.closed_at = start if previous.kind != StageKind.OPEN else None
            lost_text = values.get("lost_reason", "")
            deal.lost_reason = lost_reason_map(lost_text) if previous.kind == StageKind.LOST else ""
            deal.lost_note = lost_text if previous.kind == StageKind.LOST else ""
            names += ["stage", "process_version_id", "stage_entered_at", "status", "closed_at"]
            names += ["lost_reason", "lost_note"]
        if names:
            updates.deals.append(deal)
            updates.fields.update(n.removesuffix("_id") for n in names)
            updates.company_ids.add(deal.company_id)
        else:
            plan.unchanged += 1
    plan.updated = len(updates.deals)
    return updates


# --- activities -------------------------------------------------------------------------


def _activities_plan(records: list[Record], context: _Context) -> _Plan:
    plan = _Plan()
    companies = _Companies()
    deal_refs = {r.values["deal"] for r in records if r.values.get("deal")}
    deals: dict[str, tuple[int, int]] = {}
    refs = list(deal_refs)
    for chunk in _chunks(refs):
        for pk, external, name, company_id in Deal.objects.filter(
            models.Q(external_id__in=chunk) | models.Q(name__in=chunk)
        ).values_list("pk", "external_id", "name", "company_id"):
            deals.setdefault(external or "", (pk, company_id))
            deals.setdefault(name, (pk, company_id))
    editable_deals: set[int] = set()
    for pks in _chunks([pk for pk, _ in set(deals.values())]):
        editable_deals.update(
            deals_editable_by(context.by).filter(pk__in=pks).values_list("pk", flat=True)
        )
    contact_refs = list({r.values["contact"] for r in records if r.values.get("contact")})
    contacts: dict[str, tuple[int, int | None]] = {}
    for chunk in _chunks(contact_refs):
        lowered = [c.casefold() for c in chunk]
        for pk, external, email, company_id in Contact.objects.filter(
            models.Q(external_id__in=chunk) | models.Q(email__in=lowered)
        ).values_list("pk", "external_id", "email", "company_id"):
            contacts.setdefault(external or "", (pk, company_id))
            contacts.setdefault(email.casefold(), (pk, company_id))
    keyed: list[tuple[Record, tuple[Any, ...]]] = []
    for record in records:
        values = record.values
        deal: int | None = None
        contact: int | None = None
        company: int | None = None
        if values.get("deal"):
            found = deals.get(values["deal"])
            if found is None:
                plan.bad(record, "deal", f"no deal {values['deal']!r} in Keel")
                continue
            deal, company = found
        if values.get("contact"):
            found_contact = contacts.get(values["contact"]) or contacts.get(
                values["contact"].casefold()
            )
            if found_contact is None:
                plan.bad(record, "contact", f"no contact {values['contact']!r} in Keel")
                continue
            contact, company = found_contact[0], company or found_contact[1]
        if values.get("company"):
            ref = values["company"]
            found_company = companies.find(external=ref, domain=ref, name=ref)
            if found_company is None:
                plan.bad(record, "company", f"no company {ref!r} in Keel")
                continue
            company = found_company
        by = context.owner_id(values.get("by"))
        if not context.may_act_for(by):
            plan.bad(record, "by", f"you may not log activities as {values.get('by')}")
            continue
        if deal is not None and deal not in editable_deals:
            plan.bad(record, "deal", NOT_YOURS)
            continue
        keyed.append((record, (values["type"], values["at"], by, deal, contact, company)))
    existing: dict[tuple[Any, ...], Activity] = {}
    ats = list({key[1] for _, key in keyed})
    for chunk in _chunks(ats):
        for stored in Activity.objects.filter(at__in=chunk):
            key = (stored.type, stored.at, stored.by_id, stored.deal_id)
            existing[(*key, stored.contact_id, stored.company_id)] = stored
    new: list[tuple[Any, ...]] = []
    changed: list[Activity] = []
    changed_fields: set[str] = set()
    seen: dict[tuple[Any, ...], int] = {}
    for record, key in keyed:
        if key in seen:
            plan.bad(record, "at", f"the same activity as line {seen[key]}")
            continue
        seen[key] = record.line
        values = {"notes": "", **record.values}
        activity: Activity | None = existing.get(key)
        if activity is None:
            extra = (values.get("outcome", ""), values.get("duration_minutes"), values["notes"])
            new.append((*key, *extra))
            continue
        names = _changed(activity, values, ("outcome", "duration_minutes", "notes"))
        if names:
            changed.append(activity)
            changed_fields.update(names)
        else:
            plan.unchanged += 1
    plan.created, plan.updated = len(new), len(changed)

    def write(context: _Context) -> Steps:
        yield Step("Writing activities", 0, len(new))
        ids = ids_reserve(Activity, len(new))
        rows = [(pk, *row, context.now) for pk, row in zip(ids, new, strict=True)]
        fields = ["id", "type", "at", "by_id", "deal_id", "contact_id", "company_id"]
        _load(Activity, [*fields, "outcome", "duration_minutes", "notes", "created_at"], rows)
        if changed:
            Activity.objects.bulk_update(changed, sorted(changed_fields), batch_size=500)
        plan.contact_ids.update(row[4] for row in new if row[4] is not None)
        plan.company_ids.update(row[5] for row in new if row[5] is not None)

    plan.steps.append(write)
    return plan


_PLANNERS: dict[str, Callable[[list[Record], _Context], _Plan]] = {
    "companies": _companies_plan,
    "contacts": _contacts_plan,
    "deals": _deals_plan,
    "activities": _activities_plan,
}
