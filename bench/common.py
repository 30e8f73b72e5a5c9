"""Shared bits of the benchmarks: timing, medians, result files, the table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# A smoke run (the test suite) writes elsewhere, so it never overwrites the figures of a full run.
RESULTS_DIR = Path(os.environ.get("VOXNOTE_BENCH_RESULTS") or Path(__file__).parent / "results")


@dataclass
class Row:
    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.value == 0:
            return None
        return self.value / self.baseline  # type: ignore[operator]


@dataclass
class Report:
    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, value: float, unit: str, baseline: float | None = None, target: str = "") -> None:
        self.rows.append(Row(self.name, metric, value, unit, baseline, target))

    def write(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        payload = {
            "name": self.name,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "rows": [asdict(r) | {"ratio": r.ratio} for r in self.rows],
            "notes": self.notes,
        }
        path.write_text(json.dumps(payload, indent=2))
        return path


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def p95(xs: list[float]) -> float:
    if not xs:
        return float("nan")
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def fmt(x: float | None) -> str:
    if x is None:
        return ""
    if x != x:  # NaN
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def table(reports: list[Report]) -> str:
    lines = ["| bench | metric | value | baseline | ratio | target |", "|---|---|---|---|---|---|"]
    for rep in reports:
        for r in rep.rows:
            lines.append(
                f"| {r.bench} | {r.metric} | {fmt(r.value)} {r.unit} | "
                f"{fmt(r.baseline) + ' ' + r.unit if r.baseline is not None else ''} | "
                f"{fmt(r.ratio) + '×' if r.ratio is not None else ''} | {r.target} |"
            )
    return "\n".join(lines)
