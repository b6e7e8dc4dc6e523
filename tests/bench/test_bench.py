"""The benchmarks at their smoke size: every scenario runs end to end and ends with its JSON line.

No figure is asserted: a smoke run is too small to mean anything, and the
machine may be busy. What is checked is the contract scripts rely on
(bench/report.py): the last line is one JSON object with the scenario, the
machine, numeric figures, and each goal of issue 8 as a check whose `met`
is true, false, or null with a reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import Check

REPO = Path(__file__).resolve().parent.parent.parent
CHECKS = {
    "ingest": ["rss2email_vs_cold", "cold_vs_feedparser", "warm_s_per_1000"],
    "digest": ["send_vs_bare"],
    "screens": ["latency_p99_s", "rps_vs_constant"],
    "memory": ["idle_peak_rss_mb", "digest_peak_rss_mb"],
    "corpus": [],
    "scale": ["messages_off_by", "latency_p99_s"],
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("scenario", CHECKS)
def test_the_smoke_size_prints_a_table_then_the_json_line(scenario: str) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", scenario, "--smoke"], cwd=REPO, capture_output=True,
                          text=True, timeout=170, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    *table, last = done.stdout.strip().splitlines()
    assert table[0].startswith(f"{scenario} (smoke) on ")
    line = json.loads(last)
    assert set(line) == {"scenario", "machine", "figures", "checks"}
    assert line["scenario"] == scenario
    assert {"cpus", "cpu", "memory_gib", "python", "os", "load_1m_before"} <= set(line["machine"])
    assert line["figures"] and all(type(v) in (int, float) for v in line["figures"].values())
    assert [check["name"] for check in line["checks"]] == CHECKS[scenario]
    for check in line["checks"]:
        assert_check(check)


def assert_check(check: dict) -> None:
    assert re.fullmatch(r"(>=|<=|<|>) \d+(\.\d+)?", check["goal"])
    assert check["met"] in (True, False, None)
    if check["met"] is None:
        assert check["value"] is None and check["reason"]
    else:
        assert type(check["value"]) in (int, float) and "reason" not in check


@pytest.mark.parametrize(("value", "goal", "met"), [(20.0, ">= 20", True), (19.9, ">= 20", False),
                                                    (0.99, "< 1", True), (1.0, "< 1", False)])
def test_a_check_is_met_by_its_goal(value: float, goal: str, met: bool) -> None:
    assert Check("x", value, goal).met is met
    assert_check(Check("x", value, goal).as_json())


def test_a_check_that_could_not_run_is_never_met() -> None:
    check = Check("rss2email_vs_cold", None, ">= 20", reason="pip install rss2email==3.14 failed: no network")
    assert check.as_json() == {"name": "rss2email_vs_cold", "value": None, "goal": ">= 20", "met": None,
                               "reason": "pip install rss2email==3.14 failed: no network"}
