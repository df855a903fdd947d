"""The benchmark's surroundings: PostgreSQL databases, `pinpay` commands and the server
process, and the facts recorded about the machine and the code."""

import asyncio
import contextlib
import os
import platform
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cpu import CpuMeter, CpuSplit

ROOT = Path(__file__).resolve().parent.parent


# -- PostgreSQL administration ------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "Postgres":
        parts = urlsplit(url)
        return cls(
            parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres",
            parts.password,
        )  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def sql(self, statement: str, database: str = "postgres") -> str:
        return subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", statement],
            env=self.env(), check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def create(self, name: str) -> None:
        self.sql(f'CREATE DATABASE "{name}"')

    def drop(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql+asyncpg://{auth}@{self.host}:{self.port}/{name}"


# -- subprocesses -------------------------------------------------------------------------------


async def run_command(
    args: list[str], env: dict[str, str], meter: CpuMeter | None = None
) -> tuple[str, float, CpuSplit | None]:
    """Run a command to its end (sampling `meter` meanwhile); stdout, wall seconds, CPU split
    with the command's own CPU counted as the load generator's."""
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if meter:
        meter.start()
    sampler = asyncio.create_task(meter.sampler()) if meter else None
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    wall = time.perf_counter() - t0
    if sampler:
        sampler.cancel()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (children1.ru_utime - children0.ru_utime) + (
        children1.ru_stime - children0.ru_stime
    )
    split = meter.stop(extra_loadgen=child_cpu) if meter else None
    if proc.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(args[:6])}... exited {proc.returncode}:\n{err.decode()[-2000:]}"
        )
    return out.decode(), wall, split


def pinpay(*args: str) -> list[str]:
    return [sys.executable, "-m", "pinpay", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(
    env: dict[str, str], port: int, workers: int, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`pinpay serve` in a session of its own (so the whole tree can be stopped), until /health."""
    with log.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            *pinpay("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            await _wait_healthy(proc, port, log)
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 20)
                except TimeoutError:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this run started
                    await proc.wait()


async def _wait_healthy(proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"pinpay serve exited {proc.returncode}:\n{_tail(log)}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"pinpay serve did not become healthy:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


# -- facts about the run ------------------------------------------------------------------------


def machine(pg: Postgres) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 1024**2, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg.sql("SHOW server_version"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        # The code under test: anything changed or new outside the results themselves.
        dirty = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")
