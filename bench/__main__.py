"""`python -m bench SCENARIO [--quick | --smoke]`: run one benchmark, print its table, then its JSON line.

Sizes: the full run is what bench/README.md reports (minutes); `--quick` is
a small version that runs in under a minute; `--smoke` is the smallest that
still goes through every step, for tests/bench (a few seconds, its figures
mean nothing).
"""

from __future__ import annotations

import argparse
import importlib

from bench.report import machine

# scenario -> its module; each has SIZES and run(size) -> Report
SCENARIOS = {name: f"bench.{name}" for name in ("ingest", "digest", "screens", "memory", "corpus", "scale")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", dest="size", action="store_const", const="quick", help="A small run, under a minute")
    sizes.add_argument("--smoke", dest="size", action="store_const", const="smoke",
                       help="The smallest run, for the tests; its figures mean nothing")
    args = parser.parse_args(argv)
    scenario = importlib.import_module(SCENARIOS[args.scenario])
    before = machine()  # the load before the run, not the load the run made
    report = scenario.run(args.size or "full")
    print("\n".join(report.lines(before)), flush=True)


if __name__ == "__main__":
    main()
