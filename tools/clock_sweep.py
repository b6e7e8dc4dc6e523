"""Run the tests marked `clock` at the hours that break code which assumes the time of day.

CI runs when a session ends, at any hour. A test that computes "today" or a
schedule from the wall clock passes at 10:00 and fails at 00:30 or on the
night the clocks change. `make test` runs this after the suite: each
instant below is a separate pytest run under Debian's faketime, one after
the other (the machine has two cores), and any failure fails the sweep.

    python tools/clock_sweep.py [PYTEST ARGS...]     # e.g. -x, or a single test file

Under faketime the clock starts at the instant and runs on at the real
rate. FAKETIME_DONT_RESET keeps child processes (a daemon under test) on the
parent's clock instead of restarting theirs at the instant. The monotonic
clock is faked too: with DONT_FAKE_MONOTONIC, libfaketime 0.9.10 makes
Python's time.sleep fail with EINVAL; faked, it is only offset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

# UTC instants, and what each is in Amsterdam (the test configs' intranet time zone).
INSTANTS = {
    "2026-12-08 22:40:00": "23:40 in Amsterdam, late evening",
    "2026-12-08 23:30:00": "00:30 in Amsterdam, a day just begun",
    "2026-12-08 11:00:00": "12:00 in Amsterdam, midday",
    "2027-03-28 01:30:00": "03:30 CEST in Amsterdam, just after the clocks went forward",
    "2027-10-31 00:30:00": "02:30 CEST in Amsterdam, the first time of the hour that comes twice",
    "2027-10-31 01:30:00": "02:30 CET in Amsterdam, the second time",
}


def main(args: list[str]) -> int:
    faketime = shutil.which("faketime")
    if faketime is None:
        print("clock sweep: faketime is not installed (Debian package faketime)", file=sys.stderr)
        return 2
    env = {**os.environ, "TZ": "UTC", "FAKETIME_DONT_RESET": "1"}
    env.pop("DONT_FAKE_MONOTONIC", None)
    failed = []
    for instant, meaning in INSTANTS.items():
        started = time.monotonic()
        command = [faketime, "-f", f"@{instant}", sys.executable, "-m", "pytest", "-m", "clock", "-q",
                   "-p", "no:cacheprovider", *args]
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "no output"
        print(f"clock sweep at {instant} UTC ({meaning}): {summary} [{time.monotonic() - started:.0f} s]")
        if run.returncode != 0:
            failed.append(instant)
            print(run.stdout[-6000:], run.stderr[-2000:], sep="\n", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
