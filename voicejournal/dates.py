"""The product's one clock, and the dates people type (`2026-03-14`, `today`, `7d`, `3m`, ...).

Everything that needs "now" or "today" asks `now()` / `today()` here, never the system clock
directly, so that a test run can move the whole product in time:

- `VOICEJOURNAL_CLOCK_SHIFT_DAYS=550` runs the clock 550 days ahead (fractions and negative
  values work too);
- `VOICEJOURNAL_NOW=2028-02-29T21:00` makes the clock read that moment when the process starts,
  and run on from there.

Both are for testing; with neither set, the clock is the system's. (Debian's `faketime` is not a
clean way to do this: under it `time.sleep` fails and time-outs hang.)
"""

from __future__ import annotations

import os
import re
import time
from datetime import date, datetime, timedelta

from voicejournal.errors import UserInputError

SHIFT_ENV = "VOICEJOURNAL_CLOCK_SHIFT_DAYS"
NOW_ENV = "VOICEJOURNAL_NOW"

# (VOICEJOURNAL_NOW's value, the shift it meant when first read in this process)
_pinned: tuple[str, float] | None = None


def _shift_seconds() -> float:
    global _pinned
    fixed = os.environ.get(NOW_ENV, "").strip()
    if fixed:
        if _pinned is None or _pinned[0] != fixed:
            try:
                moment = datetime.fromisoformat(fixed)
            except ValueError as exc:
                raise UserInputError(f"{NOW_ENV}={fixed!r} is not an ISO date and time such as 2028-02-29T21:00.") from exc
            if moment.tzinfo is None:
                moment = moment.astimezone()
            _pinned = (fixed, moment.timestamp() - time.time())
        return _pinned[1]
    shift = os.environ.get(SHIFT_ENV, "").strip()
    if not shift:
        return 0.0
    try:
        return float(shift) * 86400.0
    except ValueError as exc:
        raise UserInputError(f"{SHIFT_ENV}={shift!r} is not a number of days.") from exc


def timestamp() -> float:
    """Seconds since the epoch on the product's clock (`time.time()`, moved when testing)."""
    return time.time() + _shift_seconds()


def now() -> datetime:
    """The current local time, with its UTC offset, on the product's clock."""
    return datetime.fromtimestamp(timestamp()).astimezone()


def today() -> date:
    """Today's date on the product's clock."""
    return now().date()

_RELATIVE = re.compile(r"^(\d{1,5})\s*(d|day|days|w|week|weeks|m|month|months|y|year|years)(\s+ago)?$")


def parse_day(text: str, today: date | None = None) -> date:
    """Turn `text` into a calendar day, or raise a UserInputError saying what is accepted."""
    today = today or now().date()
    value = text.strip().lower()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)[0]
        if unit == "d":
            return today - timedelta(days=amount)
        if unit == "w":
            return today - timedelta(weeks=amount)
        if unit == "m":
            return shift_months(today, -amount)
        return shift_months(today, -12 * amount)
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    raise UserInputError(
        f"'{text}' is not a date I can read. Use a date like 2026-03-14, or today, yesterday, "
        "7d (days ago), 2w, 3m or 1y."
    )


def shift_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if year < 1:
        raise UserInputError("That date is too far back.")
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
