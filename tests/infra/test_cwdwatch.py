"""The working-tree watch: real tmp trees, a real watchdog observer, the real live engine."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from watchdog.observers import Observer

from agentwatch.core.events import AlertClearedEvent
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.infra.cwdwatch import Ignore, TreeWatch, tree_watches
from agentwatch.infra.files import Root
from agentwatch.infra.live import LiveEngine
from agentwatch.sources.claude_code import SOURCE
from tests.fixtures.claude import ClaudeTree, ts, usage

WAIT = 10.0  # upper bound for an event to arrive; tests never sleep for a fixed time


def touch(path: Path, text: str = "x\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


# ---- what counts as noise ----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    touch(root / ".gitignore", "out/\n*.log\n!keep.log\n/secret.txt\n")
    touch(root / "pkg" / ".gitignore", "gen_*.py\n!gen_keep.py\n")
    touch(root / ".git" / "info" / "exclude", "scratch/\n")
    touch(root / "env" / "pyvenv.cfg", "home = /usr\n")
    return root


@pytest.mark.parametrize(
    ("rel", "ignored"),
    [
        ("src/app.py", False),
        ("README.md", False),
        (".git/index", True),
        ("node_modules/left-pad/index.js", True),
        ("web/node_modules/x.js", True),
        ("pkg/__pycache__/m.cpython-311.pyc", True),
        ("src/.app.py.swp", True),
        ("src/app.py~", True),
        ("out/bundle.js", True),  # .gitignore directory pattern
        ("debug.log", True),  # .gitignore glob
        ("keep.log", False),  # .gitignore negation
        ("secret.txt", True),  # anchored pattern
        ("docs/secret.txt", False),  # ...only at the root
        ("pkg/gen_models.py", True),  # nested .gitignore, relative to its folder
        ("pkg/gen_keep.py", False),  # nested negation
        ("gen_models.py", False),  # nested rules do not apply above their folder
        ("scratch/notes.md", True),  # .git/info/exclude
        ("env/lib/site.py", True),  # any folder holding pyvenv.cfg is a virtualenv
        ("build/lib/x.py", True),
    ],
)
def test_ignore_rules(project: Path, rel: str, ignored: bool) -> None:
    assert Ignore(str(project)).ignored(str(project / rel)) is ignored


def test_excluded_folders_and_paths_outside_are_noise(project: Path, tmp_path: Path) -> None:
    logs = project / ".claude-logs"
    ig = Ignore(str(project), excluded=[str(logs)])
    assert ig.ignored(str(logs / "projects" / "s.jsonl"))
    assert ig.ignored(str(tmp_path / "elsewhere.py"))
    assert not ig.ignored(str(project / ".claude-logs-not" / "a.py"))


def test_an_edited_gitignore_is_read_again(project: Path) -> None:
    ig = Ignore(str(project))
    target = str(project / "data.csv")
    assert not ig.ignored(target)
    touch(project / ".gitignore", "*.csv\n")
    assert not ig.ignored(target)  # cached until told
    ig.forget(str(project))
    assert ig.ignored(target)


# ---- the watches -------------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.q: queue.Queue[tuple[str, str]] = queue.Queue()

    def __call__(self, tree: str, path: str, ts: float) -> None:
        self.q.put((tree, path))

    def expect(self, path: str) -> str:
        """Wait for `path`; return its tree. Everything seen before it must be `path` too."""
        while True:
            try:
                tree, got = self.q.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no change reported for {path} within {WAIT}s")
            assert got == path, f"unexpected change reported: {got}"
            return tree


@pytest.fixture
def watches() -> Iterator[tuple[TreeWatch, Sink, list[str]]]:
    sink, warnings = Sink(), []
    tw = TreeWatch(sink, warnings.append, cap=2, home="/nonexistent-home")
    yield tw, sink, warnings
    tw.stop()


def test_changes_in_a_watched_tree_arrive_and_noise_does_not(
    watches: tuple[TreeWatch, Sink, list[str]], project: Path
) -> None:
    tw, sink, _ = watches
    tw.update([(str(project), 1.0)])
    assert tw.trees == [str(project.resolve())]
    # Noise first: if the filter failed, `expect` would see one of these instead.
    touch(project / "node_modules" / "x" / "index.js")
    touch(project / "out" / "bundle.js")
    touch(project / ".git" / "HEAD", "ref: refs/heads/main\n")
    real = touch(project / "src" / "app.py", "print(1)\n")
    assert sink.expect(real) == str(project.resolve())
    moved = str(project / "src" / "renamed.py")
    os.replace(real, moved)
    seen = set()
    while moved not in seen:  # a rename reports both names (after the write's own events)
        seen.add(sink.q.get(timeout=WAIT)[1])
    assert seen == {real, moved}


def test_only_the_most_recently_active_trees_are_watched(
    watches: tuple[TreeWatch, Sink, list[str]], tmp_path: Path
) -> None:
    tw, _, warnings = watches
    a, b, c = (tmp_path / n for n in "abc")
    for d in (a, b, c):
        d.mkdir()
    tw.update([(str(a), 10.0), (str(b), 30.0), (str(c), 20.0), (str(b), 5.0)])
    assert tw.trees == sorted([str(b), str(c)])
    assert tw.capped is not None
    assert (tw.capped.watched, tw.capped.wanted) == (2, 3)
    assert len(warnings) == 1
    assert "2 most recently active of 3" in warnings[0]
    tw.update([(str(a), 40.0), (str(b), 30.0), (str(c), 20.0)])
    assert tw.trees == sorted([str(a), str(b)])
    assert len(warnings) == 1  # same cap, said once
    tw.update([(str(a), 40.0)])
    assert tw.trees == [str(a)]
    assert tw.capped is None


def test_home_root_and_missing_folders_are_never_watched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tw = TreeWatch(lambda *_: None, lambda _: None, home=str(home))
    try:
        tw.update([(str(home), 1.0), ("/", 2.0), (str(tmp_path / "gone"), 3.0), ("rel/dir", 4.0)])
        assert tw.trees == []
    finally:
        tw.stop()


class RefusingObserver(Observer):  # type: ignore[misc,valid-type]
    """A native observer whose kernel has no inotify instances left."""

    def schedule(self, *args: object, **kwargs: object) -> object:
        raise OSError(24, "Too many open files")


def test_a_refused_watch_is_reported_not_raised(tmp_path: Path) -> None:
    warnings: list[str] = []
    tw = TreeWatch(lambda *_: None, warnings.append, observer=RefusingObserver, home="/x")
    try:
        tw.update([(str(tmp_path), 1.0)])
        tw.update([(str(tmp_path), 2.0)])  # not retried, not said twice
    finally:
        tw.stop()
    assert tw.trees == []
    assert len(warnings) == 1
    assert "cannot watch" in warnings[0]
    assert "Too many open files" in warnings[0]


def test_zero_turns_the_watch_off() -> None:
    assert tree_watches(0, []) is None


# ---- in the live engine ----------------------------------------------------------------------


def test_a_shell_made_change_counts_as_progress_for_the_live_session(
    claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    proj = tmp_path / "work" / "shop"
    proj.mkdir(parents=True)
    other = tmp_path / "work" / "other"
    other.mkdir()
    live = claude_tree.main("s-live", cwd=str(proj))
    for m in range(5):
        live.assistant(f"msg_{m}", f"req_{m}", usage(inp=10, out=5_000, cr=100_000), ts(m))
    quiet = claude_tree.main("s-old", cwd=str(other))
    quiet.assistant("msg_q", "req_q", usage(inp=1, out=1), "2026-02-02T10:00:00.000Z")

    now = [datetime(2026, 2, 3, 10, 5, tzinfo=UTC).timestamp()]  # just after the calls
    woke = threading.Event()
    eng = LiveEngine(
        [Root(SOURCE, claude_tree.root)],
        Tally(),
        lambda _ev: None,
        clock=lambda: now[0],
        tick=0.05,
        trees=tree_watches(32, [claude_tree.root], clock=lambda: now[0], observer=Observer),
    )
    eng.on_step = lambda touched: woke.set() if touched else None
    key = ThreadKey(Agent.CLAUDE_CODE, "s-live")
    try:
        eng.open()
        assert eng.trees is not None
        # Only the session active within the window is watched; yesterday's is not.
        assert eng.trees.watch.trees == [str(proj.resolve())]
        eng.start()
        touch(proj / "node_modules" / "dep.js")  # ignored: not progress
        made = touch(proj / "src" / "generated.py", "x = 1\n")  # e.g. written by `sed -i`
        deadline_hits = 0
        while made not in eng.activity.sessions[key].paths:
            assert woke.wait(WAIT), "the engine never saw the change"
            woke.clear()
            deadline_hits += 1
            assert deadline_hits < 50
        paths = eng.activity.sessions[key].paths
        assert not any("node_modules" in p for p in paths)
    finally:
        eng.stop()


def test_a_change_in_the_tree_ends_idle_burn_and_an_ignored_one_does_not(
    claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    proj = tmp_path / "burner"
    proj.mkdir()
    t = claude_tree.main("s-burn", cwd=str(proj))
    t.user("keep going", ts(0))
    for m in range(1, 8):  # 7 calls, 150k tokens each, no tool use, no change: idle burn
        t.assistant(f"msg_{m}", f"req_{m}", usage(inp=10, out=50_000, cr=100_000), ts(m))
    now = [datetime(2026, 2, 3, 10, 8, tzinfo=UTC).timestamp()]
    events: queue.Queue[object] = queue.Queue()
    eng = LiveEngine(
        [Root(SOURCE, claude_tree.root)],
        Tally(),
        events.put,
        clock=lambda: now[0],
        tick=0.05,
        trees=tree_watches(32, [claude_tree.root], clock=lambda: now[0]),
    )
    key = ThreadKey(Agent.CLAUDE_CODE, "s-burn")
    try:
        eng.open()
        [alert] = [a for a in eng.alerts[key].values() if a.active]
        assert alert.kind == "idle_burn"
        eng.start()
        touch(proj / ".venv" / "lib" / "site.py")
        touch(proj / "dist" / "app.whl")
        sentinel = touch(proj / "README.md", "# burner\n")  # a real change, after the noise
        while True:
            try:
                ev = events.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail("the idle-burn alert never cleared")
            if isinstance(ev, AlertClearedEvent):
                break
        assert ev.alert_id == alert.alert_id
        assert ev.session == key
        assert eng.activity.sessions[key].paths == {sentinel}  # the noise never arrived
    finally:
        eng.stop()


def test_gitignore_precedence_follows_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    touch(repo / ".git" / "info" / "exclude", "*.log\n")
    touch(repo / ".gitignore", "!important.log\ndata/\n*.gen\n")
    touch(repo / "data" / ".gitignore", "!keep.txt\n")
    ig = Ignore(str(repo))
    assert not ig.ignored(str(repo / "important.log"))  # .gitignore wins over info/exclude
    assert ig.ignored(str(repo / "other.log"))
    assert ig.ignored(str(repo / "data" / "keep.txt"))  # git never looks inside data/
    # A session working in a sub-folder still obeys the repository's rules above it.
    sub = Ignore(str(repo / "pkg"))
    assert sub.top == str(repo)
    assert sub.ignored(str(repo / "pkg" / "a.gen"))
    assert not sub.ignored(str(repo / "pkg" / "a.py"))


def test_folders_holding_home_or_shared_system_dirs_are_not_watched(tmp_path: Path) -> None:
    home = tmp_path / "users" / "dev"
    home.mkdir(parents=True)
    tw = TreeWatch(lambda *_: None, lambda _: None, home=str(home))
    try:
        tw.update([(str(tmp_path / "users"), 1.0), ("/tmp", 2.0), (str(home / "proj"), 3.0)])
        assert tw.trees == []  # a folder holding home, a shared one, and a missing one
        (home / "proj").mkdir()
        tw.update([(str(home / "proj"), 4.0)])
        assert tw.trees == [str(home / "proj")]
    finally:
        tw.stop()


def test_a_tree_with_too_many_folders_is_left_to_the_logs(tmp_path: Path) -> None:
    big, small = tmp_path / "monorepo", tmp_path / "tool"
    for i in range(12):
        (big / "node_modules" / f"pkg{i}").mkdir(parents=True)
    (small / "src").mkdir(parents=True)
    warnings: list[str] = []
    tw = TreeWatch(lambda *_: None, warnings.append, home="/x", max_folders=10)
    try:
        tw.update([(str(big), 2.0), (str(small), 1.0)])
        assert tw.trees == [str(small)]
        assert len(warnings) == 1
        assert "more than 10 folders" in warnings[0]
        tw.update([(str(big), 3.0), (str(small), 1.0)])  # not counted, not said again
        assert len(warnings) == 1
    finally:
        tw.stop()
