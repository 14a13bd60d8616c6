"""A report's loop signals, one session at a time: the same as over the whole history."""

from __future__ import annotations

import math
from pathlib import Path

from agentwatch.core.activity import Activity
from agentwatch.core.signals import history_activity, history_signals, session_signals
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
