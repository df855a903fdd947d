"""Time comes from one injectable clock so that expiry can be tested by moving it."""

from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


_clock: Clock = Clock()


def now() -> datetime:
    return _clock.now()


def use_clock(clock: Clock) -> Clock:
    """Install `clock` as the process clock and return the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every datetime PinPay stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def unix_ms(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)
