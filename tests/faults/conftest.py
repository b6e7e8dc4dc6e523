"""The fault suite's fixtures: a folder in memory, and a report of what each fault did.

`fault_report(text)` records one line per test; the lines are printed at the
end of the run (`faults:` in pytest's summary), so that a run says, for
instance, how many messages were in flight when a sender was killed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPORT = "fault"


@pytest.fixture
def ram_path(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder on a tmpfs (/dev/shm), else `tmp_path`.

    For tests that SIGKILL a process that writes SQLite: a killed process's
    writes stay in the page cache, so fsync (slow on a loaded disk) proves
    nothing there, and skipping it keeps 2,000-recipient runs short.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="intracast-faults-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fault_report(
    record_property: Callable[[str, object], None], request: pytest.FixtureRequest,
) -> Callable[[str], None]:
    def report(text: str) -> None:
        print(f"{request.node.name}: {text}")
        record_property(REPORT, text)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.nodeid.rpartition('::')[2]}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == REPORT
    ]
    if lines:
        terminalreporter.write_sep("-", "faults")
        for line in lines:
            terminalreporter.write_line(line)
