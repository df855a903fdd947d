"""The figures, as run.py prints them and as bench/README.md's results section shows them.

The README's figures are never typed by hand: run.py renders the section after every run, and
`python bench/report.py` re-renders it from bench/results/latest.json (`--check` fails when the
README does not match the JSON).
"""

import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
# From the issue: assignments and payments per second as shares of pgbench's TPC-B tps.
TARGETS = {"assign_ratio": 0.5, "payments_ratio": 0.2, "assign_p99_ms": 25.0}


def _n(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _per_request_cpu(r: dict[str, Any]) -> list[str]:
    """Server and PostgreSQL CPU per request in each HTTP phase, from the CPU accounting."""
    cpu, rows = r.get("cpu_by_phase") or {}, []
    for phase, calls in (("assign", 1), ("assign_light", 1), ("payments", 3), ("health", 1)):
        split, done = cpu.get(phase), (r.get(phase) or {}).get("ok")
        if split and done:
            per = 1000 / (done * calls)
            rows.append(
                f"| {phase} | {_n(split['server'] * per, 2)} | {_n(split['postgres'] * per, 2)} |"
            )
    if not rows:
        return []
    return [
        "",
        "CPU per HTTP request under load (payments: per call of the three), in ms. `health` is "
        "`GET /health`, the HTTP stack and one database transaction with no API work: the floor "
        "under every call.",
        "",
        "| phase | server ms | postgres ms |",
        "|---|---:|---:|",
        *rows,
    ]


def render(r: dict[str, Any]) -> str:
    tps = r["pgbench_tps"]
    m = r["machine"]
    assign_goal, pay_goal = TARGETS["assign_ratio"] * tps, TARGETS["payments_ratio"] * tps
    p99_goal = TARGETS["assign_p99_ms"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rows = [
        ("pgbench_tps", _n(tps), "tps", "1.000", ""),
        (
            "assign_per_s",
            _n(r["assign_per_s"]),
            "/s",
            f"{r['assign_per_s'] / tps:.3f}",
            f">= {TARGETS['assign_ratio']} x pgbench ({_n(assign_goal, 0)}/s): "
            + verdict(r["assign_per_s"] >= assign_goal),
        ),
        ("assign_p50_ms", _n(r["assign_p50_ms"], 2), "ms", "", ""),
        ("assign_p95_ms", _n(r["assign_p95_ms"], 2), "ms", "", ""),
        (
            "assign_p99_ms",
            _n(r["assign_p99_ms"], 2),
            "ms",
            "",
            f"< {p99_goal:g} ms: " + verdict(r["assign_p99_ms"] < p99_goal),
        ),
        (
            "payments_per_s",
            _n(r["payments_per_s"]),
            "/s",
            f"{r['payments_per_s'] / tps:.3f}",
            f">= {TARGETS['payments_ratio']} x pgbench ({_n(pay_goal, 0)}/s): "
            + verdict(r["payments_per_s"] >= pay_goal),
        ),
        ("payments_p50_ms", _n(r["payments_p50_ms"], 2), "ms", "", ""),
        ("payments_p95_ms", _n(r["payments_p95_ms"], 2), "ms", "", ""),
        ("payments_p99_ms", _n(r["payments_p99_ms"], 2), "ms", "", ""),
        ("issue_per_s", _n(r["issue_per_s"]), "/s", f"{r['issue_per_s'] / tps:.3f}", ""),
        ("fraud_check_us", _n(r["fraud_check_us"]), "µs", "", ""),
    ]
    if "assign_light_p50_ms" in r:  # runs from before the light phase lack it
        light = f"{r['assign_light']['clients']} clients: one assignment's own time"
        rows.append(("assign_light_p50_ms", _n(r["assign_light_p50_ms"], 2), "ms", "", light))
        rows.append(("assign_light_p99_ms", _n(r["assign_light_p99_ms"], 2), "ms", "", light))
    if "health_per_s" in r:  # runs from before the floor phase lack it
        h = r["health_per_s"]
        rows.append(("health_per_s", _n(h), "/s", f"{h / tps:.3f}", "the floor: see below"))
    lines = [
        f"Run of {r['started_at']} at commit `{r['commit']}`, "
        f"`{r['command']}` ({r['bench_seconds']} s per phase, "
        f"{r.get('clients', 32)} clients, {r['server']['workers']} server workers, "
        f"load generator client `{r.get('loadgen_client', 'raw')}`).",
        "",
        f"Machine: {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}, Python {m['python']}, PostgreSQL {m['postgresql']}; "
        f"load average at start {', '.join(str(x) for x in m['loadavg_at_start'])}.",
        "",
        "| figure | value | unit | x pgbench | target |",
        "|---|---:|---|---:|---|",
        *(f"| `{a}` | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows),
        "",
        "CPU seconds per phase (`machine_busy` is every core and process; `other` is what "
        "neither the load generator, the server nor the benchmark's PostgreSQL backends used; "
        "in the issue row `loadgen` is the `pinpay vouchers issue` process, in the pgbench row "
        "the pgbench client):",
        "",
        "| phase | wall | loadgen | server | postgres | postgres (cluster) | machine busy "
        "| other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ("wall", "loadgen", "server", "postgres", "postgres_cluster", "machine_busy", "other")
    for phase, split in r["cpu_by_phase"].items():
        if split:
            lines.append(f"| {phase} | " + " | ".join(_n(split[k], 2) for k in keys) + " |")
    lines += [
        "",
        "One call alone, in-process (round trips count BEGIN, COMMIT and the pool's pre-ping):",
        "",
        "| call | SQL statements | round trips | CPU ms | wall ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, call in r["per_call"]["calls"].items():
        lines.append(
            f"| {name} | {call['statements']} | {call['round_trips']} | "
            f"{_n(call['cpu_ms_median'], 2)} | {_n(call['wall_ms_median'], 2)} |"
        )
    lines += _per_request_cpu(r)
    contended = r.get("contended_phases") or {}
    if contended:
        lines += [
            "",
            "**Other work on the machine** took "
            + ", ".join(f"{cores} cores during {phase}" for phase, cores in contended.items())
            + " on average: those phases' figures are lower than the machine gives when idle.",
        ]
    f = r["fraud"]
    lines += [
        "",
        f"Lockout guard: guarded assignment median {_n(f['guarded_median_us'], 0)} µs, bare "
        f"{_n(f['bare_median_us'], 0)} µs ({f['pairs']} pairs); the guard's own entry "
        f"{_n(f['guard_direct_median_us'], 0)} µs, its `locked` query alone "
        f"{_n(f['locked_query_median_us'], 0)} µs.",
        "",
        "![latest results](results/latest.png)",
    ]
    return "\n".join(lines)


def update_readme(readme: Path, results: dict[str, Any]) -> bool:
    """Replace the section between the markers; True if the file changed."""
    text = readme.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"{readme} has no {START} marker")
    new = f"{head}{START}\n{render(results)}\n{END}{tail}"
    if new != text:
        readme.write_text(new)
    return new != text


# -- the console report (run.py prints it after every run) ---------------------------------------


def verdicts(r: dict[str, Any]) -> list[tuple[str, bool, str]]:
    tps = r["pgbench_tps"]
    return [
        (
            f"PIN assignments >= {TARGETS['assign_ratio']} x pgbench",
            r["assign_per_s"] >= TARGETS["assign_ratio"] * tps,
            f"{r['assign_per_s']:,.0f}/s vs {TARGETS['assign_ratio'] * tps:,.0f}/s",
        ),
        (
            f"complete payments >= {TARGETS['payments_ratio']} x pgbench",
            r["payments_per_s"] >= TARGETS["payments_ratio"] * tps,
            f"{r['payments_per_s']:,.0f}/s vs {TARGETS['payments_ratio'] * tps:,.0f}/s",
        ),
        (
            f"assignment p99 < {TARGETS['assign_p99_ms']:g} ms",
            r["assign_p99_ms"] < TARGETS["assign_p99_ms"],
            f"{r['assign_p99_ms']:.1f} ms",
        ),
    ]


def contention(r: dict[str, Any], threshold: float = 0.25) -> dict[str, float]:
    """Measured phases during which other processes used more than `threshold` cores."""
    found = {}
    for phase in ("pgbench", "assign", "payments"):
        split = r["cpu_by_phase"].get(phase)
        if split and split["wall"] > 0 and split["other"] / split["wall"] > threshold:
            found[phase] = round(split["other"] / split["wall"], 2)
    return found


def print_report(r: dict[str, Any]) -> None:
    tps = r["pgbench_tps"]
    rows = [
        ("pgbench_tps", tps, "tps", True),
        ("assign_per_s", r["assign_per_s"], "/s", True),
        ("assign_p50_ms", r["assign_p50_ms"], "ms", False),
        ("assign_p95_ms", r["assign_p95_ms"], "ms", False),
        ("assign_p99_ms", r["assign_p99_ms"], "ms", False),
        ("payments_per_s", r["payments_per_s"], "/s", True),
        ("payments_p50_ms", r["payments_p50_ms"], "ms", False),
        ("payments_p95_ms", r["payments_p95_ms"], "ms", False),
        ("payments_p99_ms", r["payments_p99_ms"], "ms", False),
        ("issue_per_s", r["issue_per_s"], "/s", True),
        ("fraud_check_us", r["fraud_check_us"], "us", False),
    ]
    if "assign_light_p50_ms" in r:
        rows.append(("assign_light_p50_ms", r["assign_light_p50_ms"], "ms", False))
        rows.append(("assign_light_p99_ms", r["assign_light_p99_ms"], "ms", False))
    print()
    print(f"PinPay benchmark, {r['started_at']}, commit {r['commit']}")
    m = r["machine"]
    print(
        f"machine: {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB, kernel {m['kernel']},"
        f" Python {m['python']}, PostgreSQL {m['postgresql']}, load {m['loadavg_at_start']}"
    )
    print(f"{'figure':<18}{'value':>12}  {'unit':<5}{'x pgbench':>10}")
    for name, value, unit, ratio in rows:
        shown = f"{value / tps:.3f}" if ratio and tps else "-"
        print(f"{name:<18}{value:>12,.1f}  {unit:<5}{shown:>10}")
    print("\nCPU seconds (machine busy = all cores, all processes; other = the rest of it):")
    print(f"{'phase':<10}" + "".join(f"{k:>17}" for k in CPU_COLUMNS))
    for phase, split in r["cpu_by_phase"].items():
        if split:
            print(f"{phase:<10}" + "".join(f"{split.get(k, 0):>17,.2f}" for k in CPU_COLUMNS))
    print("\none call alone, in-process (SQL round trips incl. BEGIN/COMMIT and pre-ping):")
    for name, call in r["per_call"]["calls"].items():
        print(
            f"  {name:<8} {call['round_trips']:>3} round trips, {call['statements']:>3} statements,"
            f" {call['cpu_ms_median']:6.2f} ms CPU, {call['wall_ms_median']:6.2f} ms wall"
        )
    for phase, unit in (("assign", "assignment"), ("payments", "payment")):
        split, done = r["cpu_by_phase"][phase], r[phase]["ok"] or 1
        print(
            f"  under load, per {unit}: server {1000 * split['server'] / done:.2f} ms CPU,"
            f" PostgreSQL {1000 * split['postgres'] / done:.2f} ms CPU;"
            f" load generator {split['loadgen_us_per_request']:.0f} us per HTTP request"
        )
    for phase, cores in contention(r).items():
        print(
            f"  WARNING: other work on the machine took {cores:.2f} cores on average during"
            f" {phase}: its figures are lower than this machine gives when idle"
        )
    print("\ntargets:")
    for label, met, detail in verdicts(r):
        print(f"  [{'MET' if met else 'NOT MET'}] {label}: {detail}")


CPU_COLUMNS = ("wall", "loadgen", "server", "postgres", "postgres_cluster", "machine_busy", "other")


def main(argv: list[str]) -> int:
    results = json.loads((BENCH / "results" / "latest.json").read_text())
    readme = BENCH / "README.md"
    if "--check" in argv:
        current = readme.read_text()
        expected = f"{START}\n{render(results)}\n{END}"
        if expected not in current:
            print("bench/README.md is out of date: run `python bench/report.py`")
            return 1
        return 0
    print("updated" if update_readme(readme, results) else "unchanged", readme)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
