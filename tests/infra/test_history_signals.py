"""A report's loop signals, one session at a time: the same as over the whole history."""

from __future__ import annotations

from pathlib import Path

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
    whole = session_signals(history_activity(tally, stats.activity, th), keys, now, th)
    one_by_one = history_signals(tally, stats.activity, keys, now, th)

    def contract(got: dict) -> dict:
        return {
            k: (s.to_contract(str), [a.to_contract(str) for a in al]) for k, (s, al) in got.items()
        }

    assert len(keys) == len(SCRIPTS)
    assert contract(one_by_one) == contract(whole)
    assert sum(len(al) for _, al in whole.values()) >= 5  # the loops were found: a real comparison
