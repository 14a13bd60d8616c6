"""Print the detectors' results on the scenario set as Markdown (for docs/loop-detection.md).

`python -m tests.core.scenarios.table` prints the results table at the default thresholds;
`--sweep` adds how each threshold trades off false alarms against missed loops.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from agentwatch.core.detectors import Thresholds
from tests.core.scenarios.catalog import Built, build
from tests.core.scenarios.replay import Result, labels, replay, result

DEADLINE_S = 60.0
SWEEP: dict[str, list[int]] = {
    "repeat_count": [2, 3, 4, 5, 6],
    "error_count": [2, 3, 4, 5],
    "reread_count": [2, 3, 4, 5, 6, 7],
    "idle_calls": [2, 3, 4, 5],
    "idle_tokens": [50_000, 100_000, 150_000, 200_000, 300_000],
}


def clock(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{int(s // 60):02d}:{s % 60:04.1f}"


def rows(results: list[Result]) -> list[str]:
    out = [
        "| scenario | category | expected | got | onset | alerted | delay | ended |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        delay = "-" if r.delay is None else f"{r.delay:.1f} s"
        out.append(
            f"| {r.name} | {r.category} | {', '.join(r.expected) or 'none'} "
            f"| {', '.join(r.got) or 'none'} | {clock(r.onset)} | {clock(r.detected)} "
            f"| {delay} | {clock(r.ended)} |"
        )
    return out


def score(results: list[Result]) -> tuple[int, int]:
    """(normal sessions with an alert, loops not alerted within the deadline)."""
    false_alarms = sum(1 for r in results if r.kind == "normal" and r.got)
    missed = sum(
        1
        for r in results
        if r.kind == "loop" and (r.delay is None or not 0 <= r.delay <= DEADLINE_S)
    )
    return false_alarms, missed


def evaluate_all(built: dict[str, Built], th: Thresholds) -> list[Result]:
    return [result(lab, replay(built[lab["name"]], th)) for lab in labels()]


def main(argv: list[str]) -> int:
    th = Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        built = {lab["name"]: build(lab["name"], Path(tmp) / lab["name"]) for lab in labels()}
        results = evaluate_all(built, th)
        print("\n".join(rows(results)))
        false_alarms, missed = score(results)
        loops = sum(1 for r in results if r.kind == "loop")
        normal = len(results) - loops
        print(
            f"\n{loops - missed}/{loops} loops alerted within {DEADLINE_S:.0f} s of onset;"
            f" {false_alarms}/{normal} normal sessions alerted."
        )
        if "--sweep" in argv:
            print("\n| threshold | value | normal sessions alerted | loops missed (60 s) |")
            print("|---|---|---|---|")
            for name, values in SWEEP.items():
                for value in values:
                    fa, miss = score(evaluate_all(built, replace(th, **{name: value})))
                    mark = " (default)" if getattr(th, name) == value else ""
                    print(f"| {name} | {value:,}{mark} | {fa} | {miss} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
