"""What every scenario prints: a readable table, its checks, then one JSON line.

The JSON line is the last line of the output, so a script can take it with
`tail -n 1`:

    {"scenario": "ingest", "machine": {...}, "figures": {"cold_s": 9.1, ...},
     "checks": [{"name": ..., "value": 31.2, "goal": ">= 20", "met": true}, ...]}

A check that could not run (a peer that would not install, a size too small
to say anything) has `"met": null` and a `reason`; it is never reported as met.
"""

from __future__ import annotations

import json
import operator
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    goal: str  # "OP NUMBER", e.g. ">= 20"
    reason: str | None = None  # why it could not run (value None)

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, target = self.goal.split()
        return COMPARE[op](self.value, float(target))

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, "value": _round(self.value), "goal": self.goal, "met": self.met}
        return out | ({"reason": self.reason or "not measured"} if self.met is None else {})


@dataclass
class Report:
    scenario: str
    size: str  # full, quick or smoke
    rows: list[tuple[str, str]] = field(default_factory=list)  # the readable table: label, text
    figures: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def row(self, label: str, text: str) -> None:
        self.rows.append((label, text))

    def lines(self, machine: dict[str, Any]) -> list[str]:
        width = max((len(label) for label, _ in self.rows), default=0) + 2
        out = [f"{self.scenario} ({self.size}) on {machine['cpus']} x {machine['cpu']}, "
               f"load {machine['load_1m_before']:.2f} before"]
        out += [f"  {label:<{width}}{text}" for label, text in self.rows]
        for check in self.checks:
            verdict = {True: "met", False: "MISSED", None: f"not measured: {check.reason}"}[check.met]
            value = "-" if check.value is None else f"{check.value:.3g}"
            out.append(f"  check {check.name}: {value} (goal {check.goal}): {verdict}")
        figures = {name: _round(value) for name, value in self.figures.items()}
        out.append(json.dumps({"scenario": self.scenario, "machine": machine, "figures": figures,
                               "checks": [c.as_json() for c in self.checks]}))
        return out


def machine() -> dict[str, Any]:
    """This machine, and how busy it was before the run (other work skews every figure)."""
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.partition(":")[2].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")), None) if cpuinfo.exists() else None
    meminfo = Path("/proc/meminfo")
    total_kb = int(meminfo.read_text().split()[1]) if meminfo.exists() else 0
    return {"cpus": os.cpu_count(), "cpu": model or platform.processor() or "unknown",
            "memory_gib": round(total_kb / 2**20, 1), "python": platform.python_version(),
            "os": platform.platform(), "load_1m_before": os.getloadavg()[0]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
