"""Calibration of every p-value and interval anynet prints, by seeded simulation on the real code paths: the
false-positive rate of each test under a null, its power under an alternative, and the coverage of each 95%
interval (analysis/calibration/). The tests (tests/test_calibration_*.py) hold the quick figures to their targets;
this prints them, or the fuller ones, as a table.

Run: python benchmarks/calibration.py [--quick] [--seed 0] [--only pairs,normalized,fidelity]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

TOPICS = ("pairs", "normalized", "fidelity")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (the tests' figures; minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(TOPICS), help=f"comma-separated of {', '.join(TOPICS)}")
    args = parser.parse_args()
    topics = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        parser.error(f"--only: {', '.join(unknown)} is not one of {', '.join(TOPICS)}")
    failed = 0
    for topic in topics:
        started = time.perf_counter()
        checks = importlib.import_module(f"analysis.calibration.{topic}").checks(quick=args.quick, seed=args.seed)
        print(f"## {topic} ({time.perf_counter() - started:.0f} s)")
        for check in checks:
            print(check.line())
            failed += not check.passed
    print(f"{failed} figure(s) out of target" if failed else "every figure within its target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
