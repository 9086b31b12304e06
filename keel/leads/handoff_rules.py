"""The hand-off's clock: working hours, and a deadline counted in them. No ORM here.

A first-touch deadline of N working hours runs only while the owner is at work: on the
policy's working days, between its opening and closing times, on the owner's own clock
(their time zone). A lead qualified on Friday at 16:00 with a four-hour deadline and a
09:00–17:00 week is due on Monday at 12:00; one qualified on Saturday is due on Monday
at 13:00.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Policy:
    """How long sales has to touch a lead it is handed, in working hours."""

    hours: int = 4
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday is 0
    opens: time = time(9)
    closes: time = time(17)

    @property
    def words(self) -> str:
        days = ", ".join(DAY_NAMES[d] for d in self.days)
        hours = "1 working hour" if self.hours == 1 else f"{self.hours} working hours"
        return f"within {hours} ({days}, {self.opens:%H:%M}–{self.closes:%H:%M})"

    def as_json(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "days": list(self.days),
            "opens": f"{self.opens:%H:%M}",
            "closes": f"{self.closes:%H:%M}",
        }


def policy_from_json(document: dict[str, Any]) -> Policy:
    """The policy as stored; one that could never reach a deadline (no working day, a day
    that closes before it opens, as a hand edit in the admin might leave it) is replaced
    by the default, so no lead waits forever."""
    try:
        policy = Policy(
            hours=int(document.get("hours", Policy.hours)),
            days=tuple(sorted({int(d) for d in document.get("days", Policy.days)})),
            opens=time.fromisoformat(document.get("opens", "09:00")),
            closes=time.fromisoformat(document.get("closes", "17:00")),
        )
    except (TypeError, ValueError):
        return Policy()
    workable = (
        1 <= policy.hours <= 200
        and policy.days
        and all(0 <= d <= 6 for d in policy.days)
        and policy.opens < policy.closes
    )
    return policy if workable else Policy()


def deadline(start: datetime, policy: Policy, zone: ZoneInfo) -> datetime:
    """The moment `policy.hours` working hours after `start`, on the clock of `zone`."""
    local = start.astimezone(zone)
    left = timedelta(hours=policy.hours)
    day = local.date()
    while True:  # ends: every week holds a working day, and each consumes hours
        if day.weekday() in policy.days:
            opens = datetime.combine(day, policy.opens, tzinfo=zone)
            closes = datetime.combine(day, policy.closes, tzinfo=zone)
            begin = max(opens, local)
            if begin < closes:
                if begin + left <= closes:
                    return begin + left
                left -= closes - begin
        day += timedelta(days=1)
        local = datetime.combine(day, time(0), tzinfo=zone)
