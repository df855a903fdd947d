"""bench/writes.py's output: one phase's figures, and two runs' files compared."""

import json
import statistics
from pathlib import Path
from typing import Any


def say(message: str) -> None:
    print(message, flush=True)


def report(result: dict[str, Any]) -> None:
    ops = result["ops"]
    say(f"\n== {result['phase']}: {ops} operations, after a CHECKPOINT")
    say(
        f"  WAL {result['wal_bytes_per_op']:,.0f} B/op in {result['wal_records_per_op']:.1f}"
        f" records, of which full-page images {result['wal_fpi_bytes_per_op']:,.0f} B"
        f" ({result['wal_fpi_per_op']:.2f} images/op); without images"
        f" {result['wal_bytes_per_op'] - result['wal_fpi_bytes_per_op']:,.0f} B/op"
    )
    say(
        f"  not counted: second images after another checkpoint began"
        f" {result['wal_repeated_fpi_bytes_per_op']:,.0f} B/op; the whole cluster's LSN advanced"
        f" {result['cluster_lsn_bytes_per_op']:,.0f} B/op (other databases included)"
    )
    say(
        f"  index entries inserted {result['index_inserts_per_op']:.2f}/op; rows updated"
        f" {result['updates_per_op']:.2f}/op, of them HOT {result['hot_share'] or 0:.0%}"
    )
    say(
        f"  backend CPU {result['backend_cpu_ms_per_op']:.3f} ms/op; in windows of"
        f" {result['cpu_window_ops']} operations, median"
        f" {result['backend_cpu_ms_per_op_median_window']:.3f}"
        f" ({result['backends']} backend(s); machine load average {result['loadavg']:.2f})"
    )
    for table, row in sorted(result["rows"].items()):
        moved = result["wal_by_relation"].get(table, {}).get("heap rows moved to another page", 0)
        hot = (
            f", HOT {row['hot'] / row['updated']:.0%}, moved to another page {moved / ops:.2f}/op"
            if row["updated"]
            else ""
        )
        say(
            f"  {table:<16} inserted {row['inserted'] / ops:.2f}/op,"
            f" updated {row['updated'] / ops:.2f}/op{hot}"
        )
    say(f"  {'WAL by relation':<34} {'B/op':>8} {'images/op':>10} {'index ins/op':>13}")
    for relation, count in result["wal_by_relation"].items():
        say(
            f"  {relation:<34} {count['bytes'] / ops:>8,.0f} {count.get('fpi', 0) / ops:>10.2f}"
            f" {count.get('index_inserts', 0) / ops:>13.2f}"
        )


# (key, label, format) of the figures --compare shows; a key may name a table's HOT share.
FIGURES = (
    ("wal_bytes_per_op", "WAL bytes", "{:,.0f}"),
    ("wal_fpi_bytes_per_op", "of which full-page images", "{:,.0f}"),
    ("wal_without_fpi", "WAL bytes without images", "{:,.0f}"),
    ("wal_fpi_per_op", "full-page images", "{:.2f}"),
    ("index_inserts_per_op", "index entries inserted", "{:.2f}"),
    ("updates_per_op", "rows updated", "{:.2f}"),
    ("hot_share", "of them HOT", "{:.0%}"),
    ("voucher", "voucher updates HOT", "{:.0%}"),
    ("payment", "payment updates HOT", "{:.0%}"),
    ("backend_cpu_ms_per_op", "backend CPU ms (runs' median, range)", "{:.2f}"),
    ("backend_cpu_ms_per_op_median_window", "backend CPU ms, median 100-op window", "{:.2f}"),
)


def figure(phase: dict[str, Any], key: str) -> float | None:
    if key == "wal_without_fpi":
        return float(phase["wal_bytes_per_op"] - phase["wal_fpi_bytes_per_op"])
    if key in phase["rows"]:
        row = phase["rows"][key]
        return float(row["hot"] / row["updated"]) if row["updated"] else None
    return None if phase.get(key) is None else float(phase[key])


def compare(before: Path, after: Path) -> None:
    """Per phase, each figure's median over the runs of each file, as a Markdown table."""
    sides = [json.loads(path.read_text()) for path in (before, after)]
    for path, side in zip((before, after), sides, strict=True):
        say(f"{path}: commit {side['commit']}, {len(side['runs'])} run(s)")
    names = [phase["phase"] for phase in sides[0]["runs"][0]["phases"]]
    say("\n| per operation | " + " | ".join(f"{name}: before → after" for name in names) + " |")
    say("|---|" + "---:|" * len(names))
    for key, label, shape in FIGURES:
        cells = []
        for n in range(len(names)):
            text = []
            for side in sides:
                found = [figure(run["phases"][n], key) for run in side["runs"]]
                values = [value for value in found if value is not None]
                cell = shape.format(statistics.median(values)) if values else "–"
                if values and key.startswith("backend_cpu") and len(values) > 1:
                    cell += f" ({min(values):.2f}–{max(values):.2f})"
                text.append(cell)
            cells.append(" → ".join(text))
        say(f"| {label} | " + " | ".join(cells) + " |")
