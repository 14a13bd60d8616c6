"""Filesystem watches on live sessions' working trees: changes made by shell commands count too.

The logs name the files an agent edits with its own tools; a `sed -i`, a code generator or a
`git checkout` run through a shell leaves no such trace. A recursive watch on each live session's
cwd catches those. Noise is dropped before it reaches the engine: version-control and virtualenv
folders, dependency and build/cache dirs, whatever the project's `.gitignore` files (and
`.git/info/exclude`) ignore, editor swap files, and anything under the agents' own log folders.

inotify instances are scarce (128 per user, one per recursive watch), so at most `cap` trees are
watched, the most recently active first; `capped` says when some were left out.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec
from watchdog.events import (
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from agentwatch.core.records import ThreadKey
from agentwatch.core.tally import SessionInfo, session_last
from agentwatch.infra.applog import LOG

_SYSTEM = frozenset({"/tmp", "/var", "/var/tmp", "/usr", "/opt", "/etc", "/private/tmp"})  # noqa: S108
"""Shared system folders: never a project tree to watch whole."""
MAX_FOLDERS = 4000
"""Folders a watched tree may hold (32 trees x 4,000 stays well inside the usual per-user
inotify watch limit, and leaves room for editors and other tools)."""
DEFAULT_CAP = 32
"""Trees watched at once (each recursive watch takes one inotify instance)."""

IGNORED_DIRS = frozenset(
    {
        # version control
        ".git",
        ".hg",
        ".svn",
        ".jj",
        # environments and dependencies
        "node_modules",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".direnv",
        ".eggs",
        "bower_components",
        ".yarn",
        ".pnpm-store",
        # build output and caches
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".cache",
        "build",
        "dist",
        "target",
        ".next",
        ".nuxt",
        ".svelte-kit",
        ".turbo",
        ".parcel-cache",
        ".gradle",
        ".terraform",
        "htmlcov",
        "coverage",
        # editors
        ".idea",
    }
)
"""Folder names whose contents never count as progress."""
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swo", ".swx", "~", ".tmp", ".lock~")
IGNORED_NAMES = frozenset({".DS_Store", ".coverage", "4913"})  # 4913: vim's write probe
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
]
"""Writes only: opening or reading a file is not progress."""


class Ignore:
    """Decides which paths under one tree are noise. Reads `.gitignore` files lazily, cached."""

    def __init__(self, root: str, excluded: Sequence[str] = ()) -> None:
        self.root = root.rstrip(os.sep) or os.sep
        self.excluded = tuple(e.rstrip(os.sep) for e in excluded)
        self.top = _git_top(self.root) or self.root
        """Where `.gitignore` files start to apply: the repository's top (the tree may be a
        sub-folder of it), else the tree itself."""
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}
        self._venv: dict[str, bool] = {}
        self._dirs: dict[str, bool] = {}

    def forget(self, folder: str) -> None:
        """A `.gitignore` in `folder` changed: read it again next time."""
        self._specs.pop(folder, None)
        self._dirs.clear()

    def ignored(self, path: str) -> bool:
        """True when a change to `path` (a file under the tree) is not progress."""
        for ex in self.excluded:
            if path == ex or path.startswith(ex + os.sep):
                return True
        rel = os.path.relpath(path, self.root)
        if rel.startswith(".." + os.sep) or rel == "..":
            return True
        parts = rel.split(os.sep)
        name = parts[-1]
        if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
            return True
        if any(p in IGNORED_DIRS for p in parts[:-1]):
            return True
        folder = self.root
        for p in parts[:-1]:
            folder = os.path.join(folder, p)
            if self._is_venv(folder):
                return True
        # Git never looks inside an ignored folder: a file there stays ignored whatever a
        # deeper `.gitignore` says.
        git = os.path.relpath(path, self.top).split(os.sep)
        for i in range(1, len(git)):
            if self._git_dir(git[:i]):
                return True
        return self._git(git, is_dir=False)

    def _git_dir(self, parts: list[str]) -> bool:
        key = "/".join(parts)
        hit = self._dirs.get(key)
        if hit is None:
            hit = self._dirs[key] = self._git(parts, is_dir=True)
        return hit

    def _git(self, parts: list[str], *, is_dir: bool) -> bool:
        """Git's verdict for a path (parts below `top`): the deepest `.gitignore` with an
        opinion wins."""
        for i in range(len(parts) - 1, -1, -1):
            spec = self._spec(os.path.join(self.top, *parts[:i]))
            if spec is None:
                continue
            verdict = spec.check_file("/".join(parts[i:]) + ("/" if is_dir else "")).include
            if verdict is not None:
                return verdict
        return False

    def _is_venv(self, folder: str) -> bool:
        hit = self._venv.get(folder)
        if hit is None:
            hit = self._venv[folder] = os.path.isfile(os.path.join(folder, "pyvenv.cfg"))
        return hit

    def _spec(self, folder: str) -> pathspec.GitIgnoreSpec | None:
        if folder in self._specs:
            return self._specs[folder]
        lines: list[str] = []
        sources = [os.path.join(folder, ".gitignore")]
        if folder == self.top:  # first: the repository's own `.gitignore` files win over it
            sources.insert(0, os.path.join(folder, ".git", "info", "exclude"))
        for src in sources:
            try:
                with open(src, encoding="utf-8", errors="replace") as fh:
                    lines.extend(fh.read(1 << 20).splitlines())
            except OSError:
                continue
        spec = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        self._specs[folder] = spec
        return spec


def _git_top(folder: str) -> str | None:
    """The work tree holding `folder` (the nearest ancestor with a `.git`), or None."""
    here = folder
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return here
        up = os.path.dirname(here)
        if up == here:
            return None
        here = up


def count_folders(tree: str, most: int) -> int:
    """Folders under `tree` (itself included), counting stops past `most`; symlinks are not
    followed (nor are they by the watch)."""
    n, stack = 0, [tree]
    while stack and n <= most:
        here = stack.pop()
        n += 1
        try:
            with os.scandir(here) as it:
                stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
    return n


Sink = Callable[[str, str, float], None]
"""Receives (tree, changed path, time) from the observer's thread."""


class _TreeHandler(FileSystemEventHandler):
    def __init__(self, tree: str, ignore: Ignore, sink: Sink, clock: Callable[[], float]) -> None:
        self.tree = tree
        self.ignore = ignore
        self.sink = sink
        self.clock = clock

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            if not path:
                continue
            if os.path.basename(path) == ".gitignore":
                self.ignore.forget(os.path.dirname(path))
            if not self.ignore.ignored(path):
                self.sink(self.tree, path, self.clock())


@dataclass(frozen=True, slots=True)
class Capped:
    """Some live trees were left unwatched."""

    watched: int
    """Trees watched."""
    wanted: int
    """Distinct live trees."""


class TreeWatch:
    """Recursive watches on up to `cap` working trees; changes go to `sink` (any thread)."""

    def __init__(
        self,
        sink: Sink,
        warn: Callable[[str], None],
        *,
        cap: int = DEFAULT_CAP,
        excluded: Sequence[str] = (),
        observer: Callable[[], BaseObserver] = Observer,
        clock: Callable[[], float] = time.time,
        home: str | None = None,
        max_folders: int = MAX_FOLDERS,
    ) -> None:
        self.sink = sink
        self.max_folders = max_folders
        """Trees with more folders than this are not watched (inotify watches are per folder,
        ignored ones included)."""
        self.warn = warn
        self.cap = cap
        self.excluded = tuple(str(Path(e).resolve()) for e in excluded)
        self.clock = clock
        self.home = str(Path(home if home is not None else Path.home()).resolve())
        self._factory = observer
        self._observer: BaseObserver | None = None
        self._watches: dict[str, ObservedWatch] = {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self.capped: Capped | None = None
        """Set while more live trees exist than `cap`."""

    @property
    def trees(self) -> list[str]:
        """The trees watched now."""
        return sorted(self._watches)

    def update(self, live: Iterable[tuple[str, float]]) -> None:
        """Watch the `cap` most recently active of `live` (cwd, last activity); drop the rest."""
        latest: dict[str, float] = {}
        for cwd, last in live:
            tree = self._usable(cwd)
            if tree is not None and last > latest.get(tree, float("-inf")):
                latest[tree] = last
        ranked = sorted(latest, key=lambda t: (-latest[t], t))
        wanted = set(ranked[: self.cap])
        capped = Capped(min(len(ranked), self.cap), len(ranked)) if len(ranked) > self.cap else None
        if capped is not None and capped != self.capped:
            self.warn(
                f"watching the {capped.watched} most recently active of {capped.wanted} project "
                "trees for file changes (inotify limit); changes in the others come from the "
                "logs only"
            )
        self.capped = capped
        with self._lock:
            for tree in [t for t in self._watches if t not in wanted]:
                self._unwatch(tree)
            for tree in ranked[: self.cap]:
                if tree not in self._watches and tree not in self._refused:
                    self._watch(tree)

    def tree_of(self, cwd: str) -> str | None:
        """The watched tree for a session's cwd, or None."""
        tree = self._usable(cwd)
        return tree if tree in self._watches else None

    def stop(self) -> None:
        """Drop every watch and stop the observer."""
        with self._lock:
            obs, self._observer = self._observer, None
            self._watches.clear()
        if obs is not None:
            obs.stop()
            obs.join(timeout=2)

    def _usable(self, cwd: str) -> str | None:
        """The tree to watch for a session's cwd, or None (missing, `/`, the home folder)."""
        if not cwd or not os.path.isabs(cwd):
            return None
        try:
            tree = str(Path(cwd).resolve())
        except (OSError, RuntimeError):
            return None
        home = self.home.rstrip(os.sep) + os.sep
        if (
            tree == os.sep
            or home.startswith(tree.rstrip(os.sep) + os.sep)  # home, or a folder holding it
            or tree in _SYSTEM
            or not os.path.isdir(tree)
        ):
            return None  # far too big to watch recursively; the logs still count edits
        return tree

    def _watch(self, tree: str) -> None:
        if self._observer is None:
            self._observer = self._factory()
            self._observer.daemon = True
            self._observer.start()
        folders = count_folders(tree, self.max_folders)
        if folders > self.max_folders:  # a recursive watch costs one inotify watch per folder
            self._refused.add(tree)
            msg = (
                f"not watching {tree} for file changes: more than {self.max_folders:,} folders "
                "(each would take one of the user's inotify watches); changes there come from "
                "the logs only"
            )
            LOG.warning(msg)
            self.warn(msg)
            return
        handler = _TreeHandler(tree, Ignore(tree, self.excluded), self.sink, self.clock)
        try:
            self._watches[tree] = self._observer.schedule(
                handler, tree, recursive=True, event_filter=EVENTS
            )
        except OSError as exc:
            self._refused.add(tree)
            msg = (
                f"cannot watch {tree} for file changes ({exc.strerror or exc}); "
                "changes there come from the logs only"
            )
            LOG.warning(msg)
            self.warn(msg)

    def _unwatch(self, tree: str) -> None:
        watch = self._watches.pop(tree)
        if self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError) as exc:
                LOG.debug("unschedule %s: %s", tree, exc)


Warn = Callable[[str], None]
TreeWatchFactory = Callable[[Sink, Warn], TreeWatch]
"""Builds the TreeWatch a `SessionTrees` feeds from (the seam tests use for the observer)."""


def tree_watches(
    cap: int,
    excluded: Sequence[str | Path],
    clock: Callable[[], float] = time.time,
    observer: Callable[[], BaseObserver] = Observer,
) -> TreeWatchFactory | None:
    """The engine's `trees` argument: None when `cap` is 0 (watching turned off)."""
    if cap <= 0:
        return None
    paths = [str(p) for p in excluded]

    def make(sink: Sink, warn: Warn) -> TreeWatch:
        return TreeWatch(sink, warn, cap=cap, excluded=paths, observer=observer, clock=clock)

    return make


class SessionTrees:
    """The live engine's side: which sessions work in which tree, and their changes.

    `refresh` (engine thread) re-picks the trees from the sessions' cwd and last activity;
    the observer's thread queues changes, coalesced per path, and calls `wake`; `take`
    (engine thread) hands them out per session.
    """

    def __init__(
        self,
        make: TreeWatchFactory,
        warn: Warn,
        wake: Callable[[], None],
        *,
        live_for: float,
        refresh_every: float = 15.0,
    ) -> None:
        self._watch = make(self._sink, warn)
        self.wake = wake
        self.live_for = live_for
        self.refresh_every = refresh_every
        self._next = float("-inf")
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], float] = {}
        self._sessions: dict[str, list[ThreadKey]] = {}

    @property
    def watch(self) -> TreeWatch:
        """The underlying watches (trees, capped)."""
        return self._watch

    def refresh(
        self, sessions: Mapping[ThreadKey, SessionInfo], now: float, *, force: bool = False
    ) -> None:
        """Watch the trees of sessions active in the last `live_for` seconds."""
        if not force and now < self._next:
            return
        self._next = now + self.refresh_every
        live: list[tuple[str, float]] = []
        by_cwd: dict[str, list[ThreadKey]] = {}
        for key, s in sessions.items():
            last = session_last(s)
            cwd = s.main.cwd
            if cwd and last is not None and last >= now - self.live_for:
                live.append((cwd, last))
                by_cwd.setdefault(cwd, []).append(key)
        self._watch.update(live)
        sessions_of: dict[str, list[ThreadKey]] = {}
        for cwd, keys in by_cwd.items():
            tree = self._watch.tree_of(cwd)
            if tree is not None:
                sessions_of.setdefault(tree, []).extend(keys)
        with self._lock:
            self._sessions = sessions_of

    def take(self) -> list[tuple[ThreadKey, float, str]]:
        """Changes since the last call: (session, time, path), one per session and path."""
        with self._lock:
            pending, self._pending = self._pending, {}
            sessions = self._sessions
        return [
            (key, ts, path)
            for (tree, path), ts in pending.items()
            for key in sessions.get(tree, ())
        ]

    def stop(self) -> None:
        """Stop watching."""
        self._watch.stop()

    def _sink(self, tree: str, path: str, ts: float) -> None:
        with self._lock:
            self._pending[(tree, path)] = ts
        self.wake()


__all__ = [
    "DEFAULT_CAP",
    "IGNORED_DIRS",
    "Capped",
    "Ignore",
    "SessionTrees",
    "TreeWatch",
    "TreeWatchFactory",
    "tree_watches",
]
