"""Where the server's time goes under load: py-spy on every `pinpay serve` process.

Run by `bench/run.py --profile SECONDS` after the measured phases (py-spy costs the server some
CPU, so it never overlaps a measurement). Each profiled phase leaves its collapsed stacks in
bench/results/profile-<phase>.txt (load them into speedscope.app or flamegraph.pl) and a summary
of the top functions by own time and by inclusive time, as percentages of the samples in which
a server thread was busy (py-spy leaves out idle waits).

`python bench/profile_server.py FILE.txt` prints that summary again for a saved file.
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen import (
    Client,
    assign_operation,
    create_payments,
    payment_operation,
    run_phase,
    say,
)

if TYPE_CHECKING:
    from run import Context

_LINE_NUMBER = re.compile(r":\d+\)$")
NATIVE = "<native: event loop, parser, system calls>"
_PROCESS_FRAMES = re.compile(r'^(?:process \d+:"[^"]*";?)+')
# Threads that only wait, which py-spy's --native mode counts as busy while they sit in read():
# uvicorn's supervisor ping-pong with each worker, multiprocessing's resource tracker.
IDLE_HELPERS = ("Process.pong", "Process._healthcheck", "resource_tracker")


def _frame(raw: str) -> str:
    return _LINE_NUMBER.sub(")", raw.strip())


def _package(frame: str) -> str:
    """`f (asyncpg/protocol.py)` -> asyncpg; a frame without a file is the interpreter's own
    work below Python (the event loop's C code, the HTTP parser, system calls)."""
    where = frame.rpartition("(")[2]
    if "/" not in where and not where.endswith(".py)"):
        return NATIVE
    return where.split("/")[0].removesuffix(".py)")


def summarize(lines: Iterable[str], top: int = 15) -> dict[str, Any]:
    """Own and inclusive shares of the samples, by function (line numbers folded together)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if any(marker in stack for marker in IDLE_HELPERS):
            continue
        # `process PID:"command line";` frames (their command lines may hold a ';') go first.
        stack = _PROCESS_FRAMES.sub("", stack)
        frames = [
            _frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:  # no Python frame: the event loop's or the HTTP parser's C code
            frames = [NATIVE]
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    by_package: Counter[str] = Counter()
    for name, n in own.items():
        by_package[_package(name)] += n
    interesting = Counter(
        {k: v for k, v in inclusive.items() if "pinpay" in k or "sqlalchemy" in k or "asyncpg" in k}
    )
    return {
        "samples": total,
        "own": share(own),
        "own_by_package": share(by_package),
        "inclusive": share(inclusive),
        "inclusive_pinpay_sqlalchemy_asyncpg": share(interesting),
    }


def print_summary(name: str, data: dict[str, Any]) -> None:
    print(f"\nprofile of the server during {name} ({data['samples']} busy samples)")
    for title, key in (
        ("own time, by package", "own_by_package"),
        ("own time", "own"),
        ("inclusive (pinpay, SQLAlchemy, asyncpg)", "inclusive_pinpay_sqlalchemy_asyncpg"),
    ):
        print(f"  top by {title}:")
        for function, percent in data[key]:
            print(f"    {percent:5.1f}%  {function}")


async def _record(server_pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    # BENCH_PYSPY_ARGS adds options, e.g. --native (C frames too; py-spy then pauses the
    # process for each sample, so it slows the server more).
    extra = os.environ.get("BENCH_PYSPY_ARGS", "").split()
    pausing = [] if "--native" in extra else ["--nonblocking"]
    return await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(server_pid), "--subprocesses", *pausing,
        "--format", "raw", "--rate", "100", "--duration", str(int(seconds)), "--output", str(out),
        *extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def profile_phases(
    ctx: "Context", clients: list[Client], server_pid: int, assign_rate: float
) -> dict[str, Any]:
    seconds = ctx.args.profile
    found: dict[str, Any] = {}
    wanted = int(max(assign_rate, 50) * seconds * 1.5) + 500
    await ctx.ensure_pins(wanted * 2 + 1000)
    made, _ = await create_payments(clients, wanted)
    for name, operation in (
        ("assign", assign_operation(deque(made), ctx.pool)),
        ("payments", payment_operation(ctx.pool)),
    ):
        out = Path(ctx.args.out) / f"profile-{name}.txt"
        say(f"profiling the server during {name} for {seconds:g} s (py-spy)")
        spy = await _record(server_pid, seconds, out)
        await asyncio.sleep(1)  # py-spy attaches
        await run_phase(f"profile-{name}", clients, seconds - 1, operation)
        _, err = await spy.communicate()
        if spy.returncode != 0 or not out.exists():
            say(f"py-spy failed ({spy.returncode}): {err.decode()[-500:]}")
            continue
        found[name] = summarize(out.read_text().splitlines())
        found[name]["file"] = out.name
        print_summary(name, found[name])
    return found


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print_summary(path, summarize(Path(path).read_text().splitlines(), top=25))
