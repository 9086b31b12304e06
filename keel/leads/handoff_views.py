"""The hand-off pages: the leads sales was handed (/leads/), the routing rules and the
first-touch policy (/leads/routing/), and marketing's feedback (/leads/feedback/)."""

from datetime import time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keel.accounts.models import Role, Team, User
from keel.accounts.permissions import MANAGING_ROLES, SELLING_ROLES
from keel.core.exceptions import InvalidInput, KeelError, NotAllowed
from keel.core.replica import reads_from_replica
from keel.leads.handoff_rules import DAY_NAMES, Policy
from keel.leads.handoffs import (
    BREACHES,
    STATES,
    handoff_feedback,
    handoff_tally,
    handoffs_visible,
    with_state,
)
from keel.leads.models import Handoff, HandoffStatus, RejectReason, RoutingKind, RoutingRule
from keel.leads.routing import (
    can_decide,
    ensure_can_route,
    handoff_accept,
    handoff_assign,
    handoff_reject,
    policy_read,
    policy_save,
    routing_rule_delete,
    routing_rule_move,
    routing_rule_save,
    rule_words,
)
from keel.planning.access import oversees
from keel.scorecard.selectors import month_bounds
from keel.web.forms import refusal_show
from keel.web.http import safe_next
from keel.web.lists import listing

READERS = frozenset({Role.OWNER, Role.SALES_MANAGER, Role.MARKETER})
TALLY_DAYS = 30  # the list's summary: the hand-offs of the last 30 days


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required guarantees it
    return request.user


def _reader(request: HttpRequest) -> User:
    """Routing and feedback are read by the owner, sales managers and marketing."""
    user = _user(request)
    if not (user.is_superuser or user.role in READERS):
        raise PermissionDenied("The owner, sales managers and marketing read lead routing.")
    return user


@require_safe
@login_required
def handoff_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = timezone.now()
    visible = handoffs_visible(user)
    tally = handoff_tally(visible.filter(at__gte=now - timedelta(days=TALLY_DAYS)), now)
    rows = with_state(visible, now)
    recent = request.GET.get("days", "") == str(TALLY_DAYS)  # the summary's links
    if recent:
        rows = rows.filter(at__gte=now - timedelta(days=TALLY_DAYS))
    state = request.GET.get("state", "")
    if state == "breach":
        rows = rows.filter(Q(state__in=BREACHES))
    elif state in STATES:
        rows = rows.filter(Q(state=state))
    status = request.GET.get("status", "")
    if status in HandoffStatus.values:
        rows = rows.filter(status=status)
    if request.GET.get("mine"):
        rows = rows.filter(owner=user)
    page = listing(
        request=request,
        queryset=rows.select_related("contact__company", "owner", "task"),
        sorts={"at": ["at"], "due": ["due_at"]},
        default="-at",
        per_page=30,
    )
    for handoff in page.page.object_list:
        handoff.decidable = handoff.status == HandoffStatus.PENDING and can_decide(user, handoff)
        handoff.state_label = STATES[handoff.state]
    sellers: list[User] = []
    if user.is_superuser or user.role in MANAGING_ROLES:
        candidates = User.objects.filter(is_active=True, role__in=SELLING_ROLES).order_by(
            "first_name", "last_name", "username"
        )
        sellers = [p for p in candidates if p.pk == user.pk or oversees(user, p)]
    return render(
        request,
        "leads/handoff_list.html",
        {
            "listing": page,
            "tally": tally,
            "days": TALLY_DAYS,
            "recent": recent,
            "states": STATES,
            "state": state,
            "status": status,
            "statuses": HandoffStatus.choices,
            "reasons": RejectReason.choices,
            "sellers": sellers,
            "policy": policy_read(),
            "reader": user.is_superuser or user.role in READERS,
        },
    )


def _decide(request: HttpRequest, pk: int) -> tuple[User, Handoff]:
    user = _user(request)
    return user, get_object_or_404(handoffs_visible(user).select_related("owner"), pk=pk)


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the list the person acted from, never to another site."""
    return redirect(safe_next(request, reverse("handoffs:list")))


@require_POST
@login_required
def handoff_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    user, handoff = _decide(request, pk)
    try:
        handoff_accept(handoff=handoff, by=user)
    except NotAllowed:
        raise PermissionDenied from None
    except KeelError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"You accepted {handoff.contact}.")
    return _back(request)


@require_POST
@login_required
def handoff_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    user, handoff = _decide(request, pk)
    try:
        handoff_reject(
            handoff=handoff,
            by=user,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", "")[:500],
        )
    except NotAllowed:
        raise PermissionDenied from None
    except KeelError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"You sent {handoff.contact} back to marketing.")
    return _back(request)


@require_POST
@login_required
def handoff_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    user, handoff = _decide(request, pk)
    chosen = request.POST.get("to", "")
    to = User.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
    if to is None:
        messages.error(request, "Choose who gets the lead.")
        return _back(request)
    try:
        handoff_assign(handoff=handoff, to=to, by=user)
    except NotAllowed:
        raise PermissionDenied from None
    except KeelError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{handoff.contact} is {to}'s now.")
    return _back(request)


# --- routing ----------------------------------------------------------------------------


class RuleForm(forms.ModelForm[RoutingRule]):
    values = forms.CharField(
        required=False,
        help_text="Regions or industries, separated by commas (a named-account rule: tiers, "
        "or blank for every company with an owner).",
    )

    class Meta:
        model = RoutingRule
        fields = ["kind", "values", "assignee", "team", "cap", "is_active"]
        help_texts = {
            "assignee": "Who gets the leads it matches; blank: round robin in the team.",
            "team": "A round robin deals to the team's salespeople in turn.",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["assignee"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            is_active=True, role__in=SELLING_ROLES
        ).order_by("first_name", "last_name", "username")
        if self.instance.pk is not None:
            self.initial["values"] = ", ".join(self.instance.values)

    def clean_values(self) -> list[str]:
        text: str = self.cleaned_data.get("values", "")
        return [v.strip() for v in text.split(",") if v.strip()]


class PolicyForm(forms.Form):
    hours = forms.IntegerField(
        min_value=1, max_value=200, help_text="Working hours sales has for the first touch."
    )
    days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(DAY_NAMES)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="Working days.",
    )
    opens = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    closes = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        opens, closes = data.get("opens"), data.get("closes")
        if isinstance(opens, time) and isinstance(closes, time) and opens >= closes:
            self.add_error("closes", "The working day closes after it opens.")
        return data


def _routing_page(
    request: HttpRequest,
    user: User,
    *,
    rule_form: RuleForm | None = None,
    policy_form: PolicyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    policy = policy_read()
    rules = [
        (rule, rule_words(rule))
        for rule in RoutingRule.objects.select_related("assignee", "team").order_by("position")
    ]
    editable = True
    try:
        ensure_can_route(user)
    except NotAllowed:
        editable = False
    return render(
        request,
        "leads/routing.html",
        {
            "rules": rules,
            "policy": policy,
            "editable": editable,
            "rule_form": rule_form or RuleForm(),
            "policy_form": policy_form
            or PolicyForm(initial={**policy.as_json(), "days": list(policy.days)}),
            "kinds": RoutingKind.choices,
            "teams": Team.objects.order_by("name"),
        },
        status=status,
    )


@require_safe
@login_required
def routing(request: HttpRequest) -> HttpResponse:
    return _routing_page(request, _reader(request))


def _router(request: HttpRequest) -> User:
    user = _reader(request)
    try:
        ensure_can_route(user)
    except NotAllowed as error:
        raise PermissionDenied(str(error)) from None
    return user


def _rule_save(request: HttpRequest, user: User, rule: RoutingRule, form: RuleForm) -> HttpResponse:
    if form.is_valid():
        data = {k: form.cleaned_data[k] for k in RuleForm.Meta.fields}
        try:
            routing_rule_save(by=user, rule=rule, data=data)
        except InvalidInput as error:
            refusal_show(form, error)
        else:
            messages.success(request, "Routing rule saved.")
            return redirect("handoffs:routing")
    return render(request, "leads/routing_rule.html", {"form": form, "rule": rule}, status=400)


@require_POST
@login_required
def routing_rule_new(request: HttpRequest) -> HttpResponse:
    user = _router(request)
    return _rule_save(request, user, RoutingRule(), RuleForm(request.POST))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def routing_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _router(request)
    rule = get_object_or_404(RoutingRule, pk=pk)
    if request.method != "POST":
        return render(
            request, "leads/routing_rule.html", {"form": RuleForm(instance=rule), "rule": rule}
        )
    return _rule_save(request, user, rule, RuleForm(request.POST, instance=rule))


@require_POST
@login_required
def routing_rule_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _router(request)
    routing_rule_move(
        by=user, rule=get_object_or_404(RoutingRule, pk=pk), up=bool(request.POST.get("up"))
    )
    return redirect("handoffs:routing")


@require_POST
@login_required
def routing_rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _router(request)
    routing_rule_delete(by=user, rule=get_object_or_404(RoutingRule, pk=pk))
    messages.success(request, "Routing rule deleted; hand-offs it made keep its words.")
    return redirect("handoffs:routing")


@require_POST
@login_required
def routing_policy(request: HttpRequest) -> HttpResponse:
    user = _router(request)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _routing_page(request, user, policy_form=form, status=400)
    data = form.cleaned_data
    policy = policy_save(
        by=user,
        policy=Policy(
            hours=data["hours"],
            days=tuple(sorted(data["days"])),
            opens=data["opens"],
            closes=data["closes"],
        ),
    )
    messages.success(request, f"First touch {policy.words}.")
    return redirect("handoffs:routing")


# --- feedback ---------------------------------------------------------------------------


@require_safe
@login_required
@reads_from_replica
def feedback(request: HttpRequest) -> HttpResponse:
    _reader(request)
    try:
        months = max(1, min(int(request.GET.get("months", "3")), 36))
    except ValueError:
        months = 3
    today = timezone.localdate()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    start, _ = month_bounds(first)
    _, end = month_bounds(today)
    rows = handoff_feedback(start=start, end=end)
    totals = {
        key: sum(getattr(r, key) for r in rows)
        for key in ("handed", "accepted", "rejected", "pending", "converted", "won")
    }
    return render(
        request,
        "leads/feedback.html",
        {
            "rows": rows,
            "totals": totals,
            "months": months,
            "since": first,
            "choices": (1, 3, 6, 12, 24),
        },
    )
