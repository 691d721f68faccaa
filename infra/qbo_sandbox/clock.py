"""Timestamps in QBO's formats."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone


class Clock:
    """Wall-clock time, shiftable forward by the control API (``POST /__sandbox/clock``) so tests can reach
    token expiry or the CDC look-back limit without waiting. Throttle windows keep real monotonic time."""

    def __init__(self, utc_offset_minutes: int = -420) -> None:
        self.tz = timezone(timedelta(minutes=utc_offset_minutes))
        self.shift_s = 0.0

    def epoch(self) -> float:
        return time.time() + self.shift_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), self.tz)

    def meta_ts(self, dt: datetime | None = None) -> str:
        """MetaData.CreateTime/LastUpdatedTime: second precision, company-local offset."""
        return (dt or self.now()).astimezone(self.tz).replace(microsecond=0).isoformat()

    def envelope_ts(self) -> str:
        """The envelope's "time": milliseconds, company-local offset."""
        return self.now().isoformat(timespec="milliseconds")

    def today(self) -> str:
        return self.now().date().isoformat()


_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_ts(value: str, tz: timezone) -> datetime:
    """Parse QBO date/date-time input ('2015-11-28', '...T10:20:30-0700', '...Z'); naive -> company tz."""
    s = value.strip()
    if len(s) == 10:
        d = date.fromisoformat(s)
        return datetime(d.year, d.month, d.day, tzinfo=tz)
    s = s.replace("Z", "+00:00")
    s = _OFFSET_NO_COLON.sub(r"\1:\2", s)
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt
