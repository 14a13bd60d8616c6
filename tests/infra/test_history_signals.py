"""A report's loop signals, one session at a time: the same as over the whole history."""

from __future__ import annotations

import math
from pathlib import Path

from msgspec.structs import replace

from agentwatch.core.activity import DEFAULT_RETENTION_S, SHOWN, Activity
from agentwatch.core.detectors import evaluate, signal
from agentwatch.core.records import ActivityRecord
from agentwatch.core.signals import (
    dormancy_line,
    history_activity,
    history_signals,
    session_signals,
)
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.infra.files import Root, ScanStats
from agentwatch.infra.scan import scan_files
from agentwatch.sources.claude_code import SOURCE
from tests.core.scenarios.catalog import SCRIPTS, build


def test_signals_one_session_at_a_time_equal_those_over_all_history(tmp_path: Path) -> None:
    for name in SCRIPTS:  # every labelled scenario, each its own session, in one tree
        build(name, tmp_path / "claude")
    tally, stats = Tally(), ScanStats()
    scan_files([Root(SOURCE, tmp_path / "claude")], tally, stats, workers=1)
    th, keys = Thresholds(), list(tally.sessions)
    now = max(r.ts or 0.0 for r in stats.activity) + 3600
    # The reference: one model fed every record, then every call, each in time order.
    everything = Activity(th.window_s, retention_s=math.inf)
    everything.feed(sorted(stats.activity, key=lambda r: r.ts or 0.0))
    for c in sorted(tally.calls.values(), key=lambda c: c.ts or 0.0):
        everything.add_usage(c.owner, c.ts, c.tokens.total, c.key)
    whole = session_signals(everything, keys, now, th)
    one_by_one = history_signals(tally, stats.activity_by_session(), keys, now, th)

    def contract(got: dict) -> dict:
        return {
            k: (s.to_contract(str), [a.to_contract(str) for a in al]) for k, (s, al) in got.items()
        }

    assert len(keys) == len(SCRIPTS)
    assert contract(one_by_one) == contract(whole)
    modelled = history_activity(tally, stats.activity_by_session(), th)  # the live engine's way
    assert contract(session_signals(modelled, keys, now, th)) == contract(whole)
    assert sum(len(al) for _, al in whole.values()) >= 5  # the loops were found: a real comparison


def test_a_dormant_session_is_slimmed_yet_shows_and_detects_what_a_whole_one_does(
    tmp_path: Path,
) -> None:
    # The live engine slims sessions quiet since before the dormancy line as it builds them.
    # What a detail view shows, the signal and every alert must stay as the whole model has
    # them, and so must the alerts once the sessions wake up and loop again.
    for name in SCRIPTS:
        build(name, tmp_path / "claude")
    tally, stats = Tally(), ScanStats()
    scan_files([Root(SOURCE, tmp_path / "claude")], tally, stats, workers=1)
    th = Thresholds(unattended=True)  # every detector
    records = dict(stats.activity_by_session())
    now = max(r.ts or 0.0 for rs in records.values() for r in rs) + 86400
    line = dormancy_line(now, th, DEFAULT_RETENTION_S)
    whole = history_activity(tally, records.items(), th, DEFAULT_RETENTION_S)
    slim = history_activity(tally, records.items(), th, DEFAULT_RETENTION_S, line)
    assert set(slim.sessions) == set(whole.sessions) == set(tally.sessions)

    def events(a: Activity) -> int:
        threads = [t for s in a.sessions.values() for t in s.threads.values()]
        return sum(len(t.outcomes) + len(t.usage) + len(t.changes) for t in threads)

    assert events(slim) <= 2 * SHOWN * len(SCRIPTS) < events(whole) // 2
    outcomes = [sum(len(t.outcomes) for t in w.threads.values()) for w in whole.sessions.values()]
    assert max(outcomes) > SHOWN  # (so the view's cut is tested)
    for key, w in whole.sessions.items():
        s = slim.sessions[key]
        assert s.recent() == w.recent()
        assert s.changed() == w.changed()
        assert signal(s, [], now) == signal(w, [], now)

    # Two days later every session runs its script again.
    gap = 2 * 86400.0
    for model in (whole, slim):
        for rs in records.values():
            model.feed(sorted((replace(r, ts=(r.ts or 0.0) + gap) for r in rs), key=_ts))
        for c in sorted(tally.calls.values(), key=lambda c: c.ts or 0.0):
            model.add_usage(c.owner, (c.ts or 0.0) + gap, c.tokens.total, ("again", *c.key))
    start = min(r.ts or now for rs in records.values() for r in rs) + gap
    end = now + gap
    seen = 0
    for at in range(int(start), int(end), 120):
        for key, w in whole.sessions.items():
            got, want = evaluate(slim.sessions[key], at, th), evaluate(w, at, th)
            assert [a.to_contract(str) for a in got] == [a.to_contract(str) for a in want]
            seen += len(want)
    assert seen > 0  # the loops were found again: a real comparison


def _ts(r: ActivityRecord) -> float:
    return r.ts or 0.0
