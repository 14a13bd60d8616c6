"""Replay a scenario as the live app would: parse with the real parser, feed the tally and the
activity model in time order, and evaluate the detectors at injected times."""

from __future__ import annotations

import heapq
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentwatch.core.activity import Activity
from agentwatch.core.detectors import Alert, Thresholds, evaluate
from agentwatch.core.records import Record, ThreadSeen
from agentwatch.core.tally import Tally, UsageChange
from agentwatch.sources.claude_code import ClaudeParser, classify
from tests.core.scenarios.agent import T0
from tests.core.scenarios.catalog import Built

LABELS = Path(__file__).with_name("labels.toml")
STEP_S = 15.0


def labels() -> list[dict[str, Any]]:
    """The labelled scenario set (labels.toml)."""
    with LABELS.open("rb") as fh:
        return list(tomllib.load(fh)["scenario"])


def records(built: Built) -> list[tuple[float, Record]]:
    """Every timed record of the scenario's files, parsed line by line, merged by time."""
    per_file: list[list[tuple[float, int, Record]]] = []
    for path in built.files:
        rel = path.relative_to(built.root / "projects").parts
        spec = classify(rel)
        assert spec is not None, path
        parser = ClaudeParser(str(path), spec)
        out: list[tuple[float, int, Record]] = []
        ts = T0
        for line in path.read_bytes().splitlines():
            for rec in parser.feed([line]):
                if isinstance(rec, ThreadSeen):
                    ts = rec.last_ts if rec.last_ts is not None else ts
                    continue
                when = getattr(rec, "ts", None)
                out.append((when if when is not None else ts, len(out), rec))
        per_file.append(out)
    return [(ts, rec) for ts, _, rec in heapq.merge(*per_file, key=lambda x: x[0])]


@dataclass
class Timeline:
    """What the detectors said during a replay."""

    start: float
    end: float
    evaluations: list[tuple[float, list[Alert]]] = field(default_factory=list)
    activity: Activity = field(default_factory=Activity)

    def seen(self) -> dict[str, tuple[float, Alert]]:
        """Each alert id: the first evaluation time it appeared at, and its last version."""
        first: dict[str, float] = {}
        last: dict[str, Alert] = {}
        for now, alerts in self.evaluations:
            for a in alerts:
                first.setdefault(a.alert_id, now)
                last[a.alert_id] = a
        return {k: (first[k], last[k]) for k in first}

    def versions(self) -> Iterator[tuple[float, Alert]]:
        for now, alerts in self.evaluations:
            for a in alerts:
                yield now, a


def replay(built: Built, th: Thresholds | None = None, step: float = STEP_S) -> Timeline:
    """Feed the scenario record by record; evaluate after each record's time and every `step`
    seconds of scenario time."""
    th = th or Thresholds()
    recs = records(built)
    activity = Activity(th.window_s)

    def on_change(ch: UsageChange) -> None:
        activity.add_usage(ch.thread, ch.ts, ch.delta.total, ch.call.key)

    tally = Tally(on_change=on_change)
    end = max(ts for ts, _ in recs)
    grid = [T0 + i * step for i in range(int((end - T0) // step) + 2)]
    times = sorted({*grid, *(ts for ts, _ in recs)})
    tl = Timeline(T0, end, activity=activity)
    i = 0
    for now in times:
        while i < len(recs) and recs[i][0] <= now:
            rec = recs[i][1]
            tally.apply([rec])
            activity.feed([rec])
            i += 1
        alerts = [a for s in activity.sessions.values() for a in evaluate(s, now, th)]
        tl.evaluations.append((now, alerts))
    return tl


@dataclass(frozen=True)
class Result:
    """One scenario's outcome, as the results table shows it."""

    name: str
    category: str
    kind: str
    expected: tuple[str, ...]
    got: tuple[str, ...]
    """Alert kinds seen at any evaluation."""
    onset: float | None
    """Labelled onset, seconds from the start."""
    detected: float | None
    """First evaluation (seconds from the start) that showed the expected alert."""
    ended: float | None
    """When that alert ended, in its last version (seconds from the start)."""
    ids: int
    """Distinct alert ids of the expected kind on the labelled thread."""

    @property
    def delay(self) -> float | None:
        if self.onset is None or self.detected is None:
            return None
        return self.detected - self.onset


def result(label: dict[str, Any], tl: Timeline) -> Result:
    """Compare a replay with its label."""
    thread = label.get("thread", "main")
    agent_id = None if thread == "main" else thread
    seen = tl.seen()
    got = tuple(sorted({str(a.kind) for _, a in seen.values()}))
    mine = sorted(
        (
            (first, a)
            for first, a in seen.values()
            if str(a.kind) in label["expected"] and a.agent_id == agent_id
        ),
        key=lambda x: x[0],
    )
    detected = mine[0][0] - tl.start if mine else None
    last = mine[0][1] if mine else None
    return Result(
        label["name"],
        label["category"],
        label["kind"],
        tuple(label["expected"]),
        got,
        label.get("onset_s"),
        detected,
        None if last is None or last.ended_at is None else last.ended_at - tl.start,
        len(mine),
    )
