from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pinpay.kit.clock import FrozenClock, use_clock


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    """The process clock, stopped; moved by the test and restored afterwards."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)
