"""Where the machine's CPU went during a phase: load generator, server, PostgreSQL, the rest.

Read from /proc (Linux only). PostgreSQL forks one backend per connection and backends come and
go (a pool's overflow connections close when returned), so backends of the databases we watch
are sampled every half second and each one's last reading is kept after it exits. The cluster's
whole cost (every backend of every database, the WAL writer, the checkpointer, and every child
the postmaster has reaped) is the postmaster's own and its children's times.
"""

import asyncio
import os
import time
from dataclasses import dataclass, field

TICK = float(os.sysconf("SC_CLK_TCK"))


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    cpu: float  # utime + stime, seconds
    children_cpu: float  # cutime + cstime of reaped children, seconds
    system: float  # stime alone: in the kernel (system calls, network stack)


def read_stat(pid: int) -> ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ProcStat(int(fields[1]), (utime + stime) / TICK, (cutime + cstime) / TICK, stime / TICK)


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (nor waiting for I/O) since boot."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    # guest time is already counted in user time
    return (sum(values[:8]) - idle) / TICK


class PostgresProcesses:
    """PostgreSQL's processes on this machine, recognised by their command name."""

    def __init__(self) -> None:
        self._is_postgres: dict[int, bool] = {}

    def pids(self) -> list[int]:
        found = []
        live = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            live.add(pid)
            known = self._is_postgres.get(pid)
            if known is None:
                known = self._is_postgres[pid] = _read_text(f"/proc/{pid}/comm") == "postgres"
            if known:
                found.append(pid)
        for gone in set(self._is_postgres) - live:
            del self._is_postgres[gone]
        return found

    def cluster_seconds(self) -> float:
        """Every PostgreSQL process's CPU, with the children the postmaster has reaped."""
        total = 0.0
        for pid in self.pids():
            stat = read_stat(pid)
            if stat is None:
                continue
            total += stat.cpu
            if stat.ppid == 1 or not self._is_postgres.get(stat.ppid, False):
                total += stat.children_cpu  # the postmaster: every backend that has exited
        return total

    def backends_of(self, databases: list[str]) -> dict[int, float]:
        """CPU seconds of the live backends connected to one of `databases`."""
        wanted = [f" {name} " for name in databases]
        result = {}
        for pid in self.pids():
            title = _read_text(f"/proc/{pid}/cmdline") + " "
            if any(w in title for w in wanted):
                stat = read_stat(pid)
                if stat is not None:
                    result[pid] = stat.cpu
        return result


def descendants(pid: int) -> list[int]:
    """`pid`'s children, grandchildren and so on (from /proc/PID/task/TID/children)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            for child in _read_text(f"/proc/{parent}/task/{tid}/children").split():
                found.append(int(child))
                todo.append(int(child))
    return found


def tree_seconds(pid: int) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds of a process and all its descendants by pid: in all, and in the kernel."""
    total: dict[int, float] = {}
    system: dict[int, float] = {}
    for member in (pid, *descendants(pid)):
        stat = read_stat(member)
        if stat is not None:
            total[member], system[member] = stat.cpu, stat.system
    return total, system


@dataclass
class _Tracked:
    """Per-pid readings: the first (baseline) and the latest seen."""

    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def see(self, readings: dict[int, float], *, at_start: bool) -> None:
        for pid, value in readings.items():
            if pid not in self.first:
                # A process born during the phase spent all its CPU in it.
                self.first[pid] = value if at_start else 0.0
            self.last[pid] = value

    def delta(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


@dataclass(frozen=True)
class CpuSplit:
    wall: float
    loadgen: float
    server: float
    postgres: float  # backends of the benchmark's own databases
    postgres_cluster: float  # all of PostgreSQL: also other databases' backends and helpers
    machine_busy: float  # all cores, all processes
    postgres_backends: int  # distinct backends of the watched databases seen (churn shows here)
    server_system: float  # the server's share spent in the kernel

    @property
    def other(self) -> float:
        """Everything else that ran: other tenants of the machine, the kernel, PostgreSQL's
        work for other databases."""
        return max(0.0, self.machine_busy - self.loadgen - self.server - self.postgres)

    def as_dict(self) -> dict[str, float]:
        return {
            "wall": round(self.wall, 2),
            "loadgen": round(self.loadgen, 2),
            "server": round(self.server, 2),
            "postgres": round(self.postgres, 2),
            "postgres_cluster": round(self.postgres_cluster, 2),
            "machine_busy": round(self.machine_busy, 2),
            "other": round(self.other, 2),
            "postgres_backends": self.postgres_backends,
            "server_system": round(self.server_system, 2),
        }


class CpuMeter:
    """Measure one phase: `start()`, keep `sample()`-ing (or run `sampler()`), then `stop()`.

    `loadgen` is this process's own CPU plus `extra_loadgen` (a client such as pgbench run as a
    child process); `server` is the process tree under `server_pid`.
    """

    def __init__(self, databases: list[str], server_pid: int | None = None) -> None:
        self.databases = databases
        self.server_pid = server_pid
        self.postgres = PostgresProcesses()
        self._backends = _Tracked()
        self._server = _Tracked()
        self._server_sys = _Tracked()
        self._t0 = self._cpu0 = self._cluster0 = self._busy0 = 0.0

    def start(self) -> None:
        self._backends = _Tracked()
        self._server = _Tracked()
        self._server_sys = _Tracked()
        self._sample(at_start=True)
        self._cluster0 = self.postgres.cluster_seconds()
        self._busy0 = machine_busy_seconds()
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()

    def _sample(self, *, at_start: bool) -> None:
        self._backends.see(self.postgres.backends_of(self.databases), at_start=at_start)
        if self.server_pid is not None:
            total, system = tree_seconds(self.server_pid)
            self._server.see(total, at_start=at_start)
            self._server_sys.see(system, at_start=at_start)

    def sample(self) -> None:
        self._sample(at_start=False)

    async def sampler(self, every: float = 0.5) -> None:
        """Sample until cancelled (run as a task beside the load)."""
        while True:
            await asyncio.sleep(every)
            self.sample()

    def stop(self, extra_loadgen: float = 0.0) -> CpuSplit:
        wall = time.perf_counter() - self._t0
        loadgen = time.process_time() - self._cpu0 + extra_loadgen
        busy = machine_busy_seconds() - self._busy0
        self.sample()
        cluster = self.postgres.cluster_seconds() - self._cluster0
        return CpuSplit(
            wall,
            loadgen,
            self._server.delta(),
            self._backends.delta(),
            cluster,
            busy,
            len(self._backends.last),
            self._server_sys.delta(),
        )
