"""A scan split over two processes gives exactly what one process gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agentwatch.core.signals import history_signals
from agentwatch.core.summary import Filter, build
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.infra.export.json_report import report
from agentwatch.infra.files import ScanStats, discover
from agentwatch.infra.prices import Override, PriceBook
from agentwatch.infra.scan import EarlySignals, Root, scan_files
from agentwatch.sources.claude_code import SOURCE
from agentwatch.sources.codex import SOURCE as CODEX_SOURCE
from tests.core.scenarios.agent import Agent as ScenarioAgent
from tests.core.scenarios.catalog import SCRIPTS
from tests.core.scenarios.catalog import build as build_scenario
from tests.fixtures.claude import ClaudeTree, ts, usage

PRICES = PriceBook({"m": Override(input=1.0, output=2.0)})  # no price package in workers


def tree_with_copies(tree: ClaudeTree) -> None:
    for n in range(6):
        sid = f"{n:08d}-0000-4000-8000-000000000000"
        t = tree.main(sid, cwd=f"/home/dev/p{n % 2}")
        for i in range(20):
            t.assistant(
                f"m{n}-{i}", f"r{n}-{i}", usage(inp=i, out=10 * i, cr=100), ts(n, i), model="m"
            )
        sub = tree.subagent(t, f"a{n:06d}")
        sub.assistant(f"s{n}", f"rs{n}", usage(inp=1, out=5), ts(n, 30), model="m")
    # Session 9 resumes session 0: copies of its calls, one larger (mid-stream copy).
    r = tree.main("99999999-0000-4000-8000-000000000000")
    for i in range(20):
        r.assistant(
            f"m0-{i}",
            f"r0-{i}",
            usage(inp=i, out=10 * i + (7 if i == 3 else 0), cr=100),
            ts(0, i),
            model="m",
        )
    r.assistant("new", "rnew", usage(inp=2, out=2), ts(59), model="m")


def run(tree: ClaudeTree, workers: int) -> dict:
    tally, stats = Tally(PRICES), ScanStats()
    files = scan_files([Root(SOURCE, tree.root)], tally, stats, workers=workers)
    doc = report(build(tally, Filter(), 2e9, 300), stats, 0.0)
    doc["tracked"] = sorted(files)
    return doc


def test_two_processes_equal_one(claude_tree, caplog):
    tree_with_copies(claude_tree)
    one = run(claude_tree, 1)
    with caplog.at_level("INFO", logger="agentwatch"):
        two = run(claude_tree, 2)
    assert not [r for r in caplog.records if "worker" in r.getMessage()]  # it really ran
    assert two == one
    by_id = {s["session_id"][:8]: s for s in one["sessions"]}
    assert by_id["00000000"]["tokens"]["output"] == sum(10 * i for i in range(20)) + 7
    assert by_id["99999999"]["tokens"]["output"] == 2
    assert one["totals"]["cost_usd"] > 0
    assert len(one["tracked"]) == 13


def test_codex_home_walks_only_its_log_folders(tmp_path):
    home = tmp_path / "codex"
    keep = home / "sessions" / "2026" / "02" / "04" / "rollout-2026-02-04T08-00-00-x.jsonl"
    arch = home / "archived_sessions" / "rollout-2026-01-01T08-00-00-y.jsonl"
    skip = home / "log" / "2026" / "02" / "04" / "rollout-2026-02-04T08-00-00-z.jsonl"
    for p in (keep, arch, skip):
        p.parent.mkdir(parents=True)
        p.write_text("")
    found = sorted(p for p, _ in discover(Root(CODEX_SOURCE, home)))
    assert found == sorted([str(keep), str(arch)])
    assert [p.name for p in Root(CODEX_SOURCE, home).watch_paths()] in (
        ["sessions", "archived_sessions"],
        ["archived_sessions", "sessions"],
    )


def test_a_cold_scan_previews_the_recent_sessions_then_gives_the_same_result(claude_tree):
    import os  # noqa: PLC0415

    tree_with_copies(claude_tree)
    now = 2_000_000_000.0
    for path in claude_tree.root.rglob("*.jsonl"):  # everything is old history...
        os.utime(path, (now - 40 * 86400, now - 40 * 86400))
    recent = ("00000003", "00000004")  # ...but two sessions were written an hour ago
    for path in claude_tree.root.rglob("*.jsonl"):
        if path.name.startswith(recent) or path.parent.parent.name.startswith(recent):
            os.utime(path, (now - 3600, now - 3600))
    plain = run(claude_tree, 1)
    for workers in (1, 2):
        seen: list[dict] = []
        tally, stats = Tally(PRICES), ScanStats()

        def preview(t: Tally, seen: list[dict] = seen) -> None:
            seen.append(report(build(t, Filter(), 2e9, 300), ScanStats(), 0.0))

        scan_files(
            [Root(SOURCE, claude_tree.root)], tally, stats, workers=workers, preview=preview,
            now=now,
        )  # fmt: skip
        doc = report(build(tally, Filter(), 2e9, 300), stats, 0.0)
        doc["tracked"] = plain["tracked"]
        assert doc == plain, f"workers={workers}: the preview changed the result"
        [early] = seen
        ids = sorted(s["session_id"][:8] for s in early["sessions"])
        assert ids == list(recent), f"workers={workers}"
        full = {s["session_id"]: s for s in plain["sessions"]}
        for s in early["sessions"]:  # their own calls are already exact
            assert s["total_tokens"] == full[s["session_id"]]["total_tokens"]


def _scan_tree(root: Path, workers: int) -> tuple[Tally, ScanStats, list[str]]:
    tally, stats = Tally(), ScanStats()
    files = scan_files([Root(SOURCE, root)], tally, stats, workers=workers)
    return tally, stats, sorted(files)


def _calls(tally: Tally) -> dict[tuple[str, ...], tuple[object, ...]]:
    return {
        k: (c.tokens, c.model, c.ts, c.owner, frozenset(c.threads), c.message_id, c.request_id)
        for k, c in tally.calls.items()
    }


def test_two_processes_read_the_same_tally_activity_and_signals(tmp_path: Path) -> None:
    for name in SCRIPTS:  # every labelled scenario, each its own session
        build_scenario(name, tmp_path / "claude")
    one, one_stats, one_files = _scan_tree(tmp_path / "claude", 1)
    two, two_stats, two_files = _scan_tree(tmp_path / "claude", 2)

    assert two_files == one_files
    assert (two_stats.files, two_stats.lines, two_stats.bytes) == (
        one_stats.files,
        one_stats.lines,
        one_stats.bytes,
    )
    # The scenarios reuse message ids, so calls are copied across sessions (C4): credit
    # must come out the same wherever each copy was read (only the copies' order differs).
    assert _calls(two) == _calls(one)
    assert any(len(c.threads) > 1 for c in one.calls.values())
    assert two.total.tokens == one.total.tokens
    assert two.total.tokens.total > 0
    for key, s in one.sessions.items():
        assert two.sessions[key].main.account.tokens == s.main.account.tokens
    # The worker's records arrive encoded, by session; each session holds the same records.
    mine = dict(one_stats.activity_by_session())
    theirs = dict(two_stats.activity_by_session())
    assert len(mine) == len(SCRIPTS)
    assert {k: sorted(v, key=repr) for k, v in theirs.items()} == {
        k: sorted(v, key=repr) for k, v in mine.items()
    }
    th, keys = Thresholds(), list(one.sessions)
    now = max(r.ts or 0.0 for r in one_stats.activity) + 3600
    got = history_signals(two, two_stats.activity_by_session(), keys, now, th)
    want = history_signals(one, one_stats.activity_by_session(), keys, now, th)
    assert {k: [a.to_contract(str) for a in al] for k, (_, al) in got.items()} == {
        k: [a.to_contract(str) for a in al] for k, (_, al) in want.items()
    }
    assert sum(len(al) for _, al in want.values()) >= 5  # loops were found: a real comparison


def _contract(found: dict) -> dict:
    return {
        k: (s.to_contract(str), [a.to_contract(str) for a in al]) for k, (s, al) in found.items()
    }


def _modelled(root: Path) -> tuple[Tally, dict, dict]:
    """A two-process scan asked for early signals; and the signals computed afterwards."""
    th, now = Thresholds(), 2_000_000_000.0
    early = EarlySignals(now, th)
    tally, stats = Tally(), ScanStats()
    scan_files([Root(SOURCE, root)], tally, stats, workers=2, early=early)
    everything = history_signals(tally, stats.activity_by_session(), list(tally.sessions), now, th)
    assert _contract(early.found) == _contract({k: everything[k] for k in early.found})
    return tally, early.found, everything


EIGHT = "88888888-0000-4000-8000-000000000000"
COPY = "77777777-0000-4000-8000-000000000000"


def test_early_signals_skip_a_session_read_by_both_processes(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    for name in SCRIPTS:
        build_scenario(name, root, own_ids=True)
    tree = ClaudeTree(root)
    # A session with a 2.0.x sibling agent file: that file's session is known from its lines
    # only, so the other process may read it (its tokens change the session's signal). The
    # two are the biggest files, so the greedy split parts them.
    eight = tree.main(EIGHT)
    worker = ScenarioAgent(tree, eight, "eight")
    worker.prefix = "eight-"
    SCRIPTS["normal_feature"](worker)
    for i in range(1500):
        eight.assistant(f"big{i}", f"rbig{i}", usage(out=70), ts(3, i % 60))
    sibling = tree.sibling(eight, "a0sibling")
    for i in range(700):
        sibling.assistant(f"sib{i}", f"rsib{i}", usage(out=700), ts(2, i % 60))
    _, found, _ = _modelled(root)
    kept = {k.session_id for k in found}
    assert EIGHT not in kept
    assert len(kept) == len(SCRIPTS)  # every other session was modelled during the scan
    assert sum(len(al) for _, al in found.values()) >= 5  # with their loops


def test_early_signals_skip_sessions_sharing_a_call_across_processes(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    for name in SCRIPTS:
        built = build_scenario(name, root, own_ids=True)
        if name == "normal_feature":
            original = built.files[0]
    tree = ClaudeTree(root)
    copy = tree.main(COPY)  # resumes "normal_feature": holds a copy of one of its calls (C4)
    copy.assistant("msg_normal_feature-0001", "req_normal_feature-0001", usage(out=5), ts(1))
    pad = original.read_text().splitlines(keepends=True)[-1]
    with original.open("a") as f:  # the two biggest files: the greedy split parts them
        f.write(pad * 1500)
    for i in range(700):
        copy.assistant(f"cp{i}", f"rcp{i}", usage(out=9), ts(4, i % 60))
    tally, found, _ = _modelled(root)
    shared = {k.session_id for k in tally.sessions if tally.shares_calls(k)}
    assert shared == {COPY, original.stem}
    kept = {k.session_id for k in found}
    assert not shared & kept
    assert len(kept) == len(SCRIPTS) - 1


_PRICED_ELSEWHERE = """
import json, sys
from pathlib import Path
from agentwatch.core.tally import Tally
from agentwatch.infra.files import ScanStats
from agentwatch.infra.prices import Override, PriceBook
from agentwatch.infra.scan import Root, scan_files
from agentwatch.sources.claude_code import SOURCE

book = PriceBook({"claude-haiku-4-5": Override(input=1.0, output=2.0)})
tally = Tally(book)
scan_files([Root(SOURCE, Path(sys.argv[1]))], tally, ScanStats(), workers=2, prices=book)
costs = {str(k): [c.cost, c.estimate] for k, c in tally.calls.items()}
print(json.dumps({"loaded": "genai_prices" in sys.modules, "costs": costs}))
"""


def test_a_two_process_scan_prices_every_call_without_loading_the_price_data(claude_tree):
    # The price data costs some 40 MB once loaded: the worker looks the rates up for both
    # processes. The costs must be what one process with the data gives, overrides included.
    models = ["claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5", "mystery-1"]
    for n in range(4):
        t = claude_tree.main(f"{n:08d}-0000-4000-8000-000000000000")
        for i in range(6):
            when = f"2026-0{2 + n}-{3 + i:02d}T10:00:00.000Z"  # rates are per model and day
            model = models[(n + i) % len(models)]
            t.assistant(f"m{n}-{i}", f"r{n}-{i}", usage(inp=9, out=90, cr=900), when, model=model)
    p = subprocess.run(
        [sys.executable, "-c", _PRICED_ELSEWHERE, str(claude_tree.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["loaded"] is False
    book = PriceBook({"claude-haiku-4-5": Override(input=1.0, output=2.0)})
    one = Tally(book)
    scan_files([Root(SOURCE, claude_tree.root)], one, ScanStats(), workers=1)
    expected = {str(k): [c.cost, c.estimate] for k, c in one.calls.items()}
    assert out["costs"] == expected
    assert len(expected) == 24
    assert sum(1 for cost, _ in expected.values() if cost is None) == 6  # mystery-1
    assert len({cost for cost, _ in expected.values()}) == 4  # three models priced, one not
