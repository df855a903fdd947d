"""The worker: one round does every duty and says how much; the loop stops when told to."""

import asyncio
import dataclasses
import io
import json
from collections.abc import Iterator

import pytest
import structlog

from pinpay.audit import service as audit
from pinpay.audit.chain import verify_chain
from pinpay.kit.log import configure_logging
from pinpay.runtime import Runtime
from pinpay.worker import service as worker


async def _write(runtime: Runtime, count: int) -> None:
    for number in range(count):
        async with runtime.transaction() as session:
            await audit.record(session, "voucher.hold", reason=f"r{number}")


async def _sealed_and_unsealed(runtime: Runtime) -> tuple[int, int]:
    async with runtime.transaction() as session:
        report = await verify_chain(session, runtime.keyring)
    assert report.problems == []
    return report.sealed, report.unsealed


def _polling_every(runtime: Runtime, seconds: float) -> Runtime:
    """The same database and keys, a different poll interval."""
    settings = runtime.settings.model_copy(update={"worker_poll_seconds": seconds})
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    configure_logging()
    stream = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))
    yield stream
    configure_logging()


async def test_run_once_seals_pending_records_and_counts_every_duty(runtime: Runtime) -> None:
    await _write(runtime, 3)
    done = await worker.run_once(runtime)
    assert list(done) == [name for name, _ in worker.DUTIES]
    assert done["seal_audit_records"] == 3
    assert all(count == 0 for name, count in done.items() if name != "seal_audit_records")
    assert await _sealed_and_unsealed(runtime) == (3, 0)

    assert all(count == 0 for count in (await worker.run_once(runtime)).values())
    await _write(runtime, 2)
    assert (await worker.run_once(runtime))["seal_audit_records"] == 2
    assert await _sealed_and_unsealed(runtime) == (5, 0)


async def test_run_once_seals_in_batches_of_the_configured_size(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"audit_seal_batch": 2})
    small = dataclasses.replace(runtime, settings=settings)
    await _write(runtime, 5)
    rounds = [(await worker.run_once(small))["seal_audit_records"] for _ in range(4)]
    assert rounds == [2, 2, 1, 0]
    assert await _sealed_and_unsealed(runtime) == (5, 0)


async def test_a_failing_duty_does_not_stop_the_others(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, log_stream: io.StringIO
) -> None:
    async def broken(_runtime: Runtime) -> int:
        raise RuntimeError("downstream is down")

    monkeypatch.setattr(worker, "DUTIES", [("broken", broken), *worker.DUTIES])
    await _write(runtime, 2)
    done = await worker.run_once(runtime)
    assert done["broken"] == 0 and done["seal_audit_records"] == 2
    failures = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [(f["event"], f["duty"]) for f in failures] == [("worker.duty_failed", "broken")]
    assert "downstream is down" in failures[0]["exception"]


async def test_run_forever_works_until_the_stop_event_is_set(runtime: Runtime) -> None:
    busy = _polling_every(runtime, 0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(busy, stop))
    try:
        await _write(runtime, 3)
        for _ in range(1500):  # up to 30 s: a loaded machine may be slow, never wrong
            if await _sealed_and_unsealed(runtime) == (3, 0):
                break
            await asyncio.sleep(0.02)
        assert await _sealed_and_unsealed(runtime) == (3, 0)
        await _write(runtime, 1)  # records written later are picked up by a later round
        for _ in range(1500):
            if await _sealed_and_unsealed(runtime) == (4, 0):
                break
            await asyncio.sleep(0.02)
        assert await _sealed_and_unsealed(runtime) == (4, 0)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert task.done() and task.exception() is None


async def test_stop_wakes_a_sleeping_worker_at_once(runtime: Runtime) -> None:
    idle = _polling_every(runtime, 60)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(idle, stop))
    await asyncio.sleep(0.2)  # one empty round done, now sleeping for a minute
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_a_worker_told_to_stop_before_starting_does_nothing(runtime: Runtime) -> None:
    await _write(runtime, 2)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(worker.run_forever(runtime, stop), timeout=2)
    assert await _sealed_and_unsealed(runtime) == (0, 2)
