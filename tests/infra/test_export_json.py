"""`report --json` is built one session at a time, and reads as one formatting pass wrote it."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from agentwatch.core.groups import GroupBy, group_report
from agentwatch.core.records import ThreadKey
from agentwatch.core.signals import history_signals
from agentwatch.core.summary import Filter, build
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.infra.export.json_report import iso_required
from agentwatch.infra.export.model import Export
from agentwatch.infra.export.render import json_doc, render
from agentwatch.infra.export.text import read_session_text
from agentwatch.infra.files import Root, ScanStats
from agentwatch.infra.scan import scan_files
from agentwatch.sources.claude_code import SOURCE
from tests.core.scenarios.catalog import SCRIPTS
from tests.core.scenarios.catalog import build as build_scenario


def _export(root: Path, variant: str) -> Export:
    tally, stats = Tally(), ScanStats()
    scan_files([Root(SOURCE, root)], tally, stats, workers=1)
    now = max(r.ts or 0.0 for r in stats.activity) + 60
    flt = Filter(project="nowhere") if variant == "empty" else Filter()
    rep = build(tally, flt, now, 300)
    keys = list(tally.sessions)
    found = history_signals(tally, stats.activity_by_session(), keys, now, Thresholds())
    signals = {
        k: (s.to_contract(iso_required), [a.to_contract(iso_required) for a in al])
        for k, (s, al) in found.items()
    }
    groups = group_report(rep, GroupBy.MODEL, tally.calls.values()) if variant == "groups" else None
    texts = None
    if variant == "text":
        texts = {
            ThreadKey(s.agent, s.session_id): read_session_text(s.agent, s.files)
            for s in rep.sessions
        }
    return Export(rep, now, signals, stats, groups, texts)


@pytest.mark.parametrize("variant", ["plain", "empty", "groups", "text"])
def test_the_json_document_reads_as_one_formatting_pass_wrote_it(
    tmp_path: Path, variant: str
) -> None:
    for name in list(SCRIPTS)[:6]:  # sessions with sub-agents, signals and alerts
        build_scenario(name, tmp_path / "claude")
    doc = _export(tmp_path / "claude", variant)
    whole = msgspec.json.format(msgspec.json.encode(json_doc(doc)), indent=2) + b"\n"
    streamed = render("json", doc)
    assert bytes(streamed) == whole
    parsed = msgspec.json.decode(streamed)
    top = ["schema_version", "generated_at", "sessions", "totals", "skipped"]  # CLI_CONTRACT 3
    top[4:4] = ["groups"] if variant == "groups" else []
    top += ["text"] if variant == "text" else []
    assert list(parsed) == top
    assert len(parsed["sessions"]) == (0 if variant == "empty" else 6)
    assert ("groups" in parsed) == (variant == "groups")
    if variant == "text":
        assert all(s["text"] for s in parsed["sessions"])
