"""bench/results/latest.png from latest.json: throughput beside pgbench, latency, CPU split.

`python bench/chart.py [results/latest.json]` redraws it without running the benchmark.
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from report import TARGETS

TARGET_RATIOS = {
    "assign_per_s": TARGETS["assign_ratio"],
    "payments_per_s": TARGETS["payments_ratio"],
}
ASSIGN_P99_TARGET_MS = TARGETS["assign_p99_ms"]


def draw(r: dict[str, Any], path: Path) -> None:
    fig, (rates, latency, cpu) = plt.subplots(1, 3, figsize=(16, 5.2))
    m = r["machine"]
    fig.suptitle(
        f"PinPay benchmark {r['started_at']}  commit {r['commit'][:12]}  "
        f"({m['nproc']} x {m['cpu_model']}, PostgreSQL {m['postgresql']}, "
        f"{r['bench_seconds']} s per phase)",
        fontsize=10,
    )

    # Throughput next to pgbench, with the targets as markers.
    names = ["pgbench_tps", "assign_per_s", "payments_per_s"]
    labels = ["pgbench TPC-B\n(tps)", "PIN assignments\n(/s)", "complete payments\n(/s)"]
    values = [r[n] for n in names]
    bars = rates.bar(labels, values, color=["#888888", "#1f77b4", "#2ca02c"])
    rates.bar_label(bars, fmt="{:,.0f}")
    for i, name in enumerate(names):
        if name in TARGET_RATIOS:
            goal = TARGET_RATIOS[name] * r["pgbench_tps"]
            rates.hlines(goal, i - 0.4, i + 0.4, colors="red", linestyles="dashed")
            rates.annotate(
                f"target {TARGET_RATIOS[name]} x pgbench",
                (i, goal),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=8,
                color="red",
            )
    rates.set_title("Throughput (32 clients; pgbench 16)")
    rates.set_ylabel("per second")

    # Latency percentiles.
    pcts = ["p50", "p95", "p99"]
    xs = range(len(pcts))
    series = [
        ("PIN assignment (1 call)", [r[f"assign_{p}_ms"] for p in pcts]),
        ("payment (3 calls)", [r[f"payments_{p}_ms"] for p in pcts]),
    ]
    if "assign_light" in r:  # runs from before the light phase lack it
        light = r["assign_light"]
        series.append(
            (f"PIN assignment, {light['clients']} clients", [light[f"{p}_ms"] for p in pcts])
        )
    width = 0.8 / len(series)
    for n, (label, values) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * width
        bars = latency.bar([x + offset for x in xs], values, width, label=label)
        latency.bar_label(bars, fmt="{:.1f}", fontsize=7)
    latency.axhline(ASSIGN_P99_TARGET_MS, color="red", linestyle="dashed", linewidth=1)
    latency.annotate(
        f"assignment p99 target {ASSIGN_P99_TARGET_MS:g} ms",
        (2, ASSIGN_P99_TARGET_MS),
        textcoords="offset points",
        xytext=(0, 4),
        ha="center",
        fontsize=8,
        color="red",
    )
    latency.set_xticks(list(xs), pcts)
    latency.set_ylabel("ms")
    latency.set_title("Latency")
    latency.legend(fontsize=8, loc="upper left")

    # Where the CPU went in each HTTP phase.
    phases = [ph for ph in ("pgbench", "assign", "payments") if r["cpu_by_phase"].get(ph)]
    parts = [
        ("server", "#1f77b4"),
        ("postgres", "#9467bd"),
        ("loadgen", "#ff7f0e"),  # for pgbench: the pgbench client
        ("other", "#bbbbbb"),
    ]
    bottoms = [0.0] * len(phases)
    for key, colour in parts:
        shares = [
            r["cpu_by_phase"][ph][key] / r["cpu_by_phase"][ph]["wall"] for ph in phases
        ]  # cores busy on average
        cpu.bar(phases, shares, bottom=bottoms, color=colour, label=key)
        bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
    cpu.axhline(m["nproc"], color="black", linestyle="dotted", linewidth=1)
    cpu.set_ylabel("cores busy (CPU s / wall s)")
    cpu.set_title(f"CPU by process group ({m['nproc']} cores)")
    cpu.set_xticks(
        range(len(phases)),
        [f"{ph}\n(loadgen = pgbench)" if ph == "pgbench" else ph for ph in phases],
    )
    cpu.legend(fontsize=8, loc="lower right")

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    source = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results/latest.json"
    )
    draw(json.loads(source.read_text()), source.with_suffix(".png"))
