"""The watchdog bridge: one recursive watch per root; events only say "this path changed"."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from agentwatch.infra.applog import LOG
from agentwatch.infra.files import Root

# watchdog warns when a new folder's watch races its parent's recursive add; harmless, and a
# warning on stderr would land in the middle of `watch --jsonl` consumers' logs.
warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)

EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]


class Changes:
    """Paths changed since the last `take`, coalesced; `wait` wakes on the first new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: set[str] = set()
        self._dirs: set[str] = set()
        self._event = threading.Event()

    def file(self, path: str) -> None:
        with self._lock:
            self._files.add(path)
        self._event.set()

    def folder(self, path: str) -> None:
        with self._lock:
            self._dirs.add(path)
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Block until something changed or `timeout` passed."""
        return self._event.wait(timeout)

    def take(self) -> tuple[set[str], set[str]]:
        """Changed files and new folders since the last call."""
        with self._lock:
            files, dirs = self._files, self._dirs
            self._files, self._dirs = set(), set()
            self._event.clear()
        return files, dirs


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Root, changes: Changes) -> None:
        self.root = root
        self.changes = changes

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            path = raw.decode() if isinstance(raw, bytes) else raw
            if not path:
                continue
            if event.is_directory:
                if isinstance(event, DirCreatedEvent | DirMovedEvent):
                    self.changes.folder(path)
            elif self.root.spec_of(path) is not None:
                self.changes.file(path)


class _TopHandler(FileSystemEventHandler):
    """Watches a root's base (not recursively) for its log folders to appear."""

    def __init__(self, root: Root, on_new: Callable[[Root, str], None]) -> None:
        self.root = root
        self.on_new = on_new

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory or not isinstance(event, DirCreatedEvent | DirMovedEvent):
            return
        raw = getattr(event, "dest_path", "") or event.src_path
        path = raw.decode() if isinstance(raw, bytes) else raw
        top = self.root.top_dirs or ()
        if os.path.dirname(path) == str(self.root.base) and os.path.basename(path) in top:
            self.on_new(self.root, path)


class Watcher:
    """Watches every root; falls back to polling a root when inotify refuses it."""

    def __init__(
        self,
        roots: list[Root],
        changes: Changes,
        warn: Callable[[str], None],
        poll_interval: float = 1.0,
        native: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self.roots = roots
        self.changes = changes
        self.warn = warn
        self.poll_interval = poll_interval
        self._native = native
        self._native_observer: BaseObserver | None = None
        self._observers: list[BaseObserver] = []

    def start(self) -> None:
        """Start watching. Emitters start inside `schedule` once the observer runs, so a
        refused inotify instance or watch surfaces here, per root."""
        native = self._native()
        native.daemon = True
        native.start()
        self._observers.append(native)
        polling: BaseObserver | None = None
        self._native_observer = native
        for root in self.roots:
            if root.top_dirs is not None and root.base.is_dir():
                try:
                    native.schedule(
                        _TopHandler(root, self._new_top),
                        str(root.base),
                        recursive=False,
                        event_filter=EVENTS,
                    )
                except OSError as exc:
                    LOG.warning("cannot watch %s for new folders: %s", root.base, exc)
        for root, base in [(r, p) for r in self.roots for p in r.watch_paths()]:
            handler = _Handler(root, self.changes)
            try:
                native.schedule(handler, str(base), recursive=True, event_filter=EVENTS)
            except OSError as exc:
                if polling is None:
                    polling = PollingObserver(timeout=self.poll_interval)
                    polling.daemon = True
                    polling.start()
                    self._observers.append(polling)
                polling.schedule(handler, str(base), recursive=True)
                msg = (
                    f"cannot watch {base} with inotify ({exc.strerror or exc}); "
                    f"polling it every {self.poll_interval:g} s instead"
                )
                LOG.warning(msg)
                self.warn(msg)

    def _new_top(self, root: Root, path: str) -> None:
        """A log folder appeared (Codex's `sessions/` on first run): watch it, read it."""
        observer = self._native_observer
        try:
            if observer is not None:
                observer.schedule(
                    _Handler(root, self.changes), path, recursive=True, event_filter=EVENTS
                )
        except OSError as exc:
            self.warn(f"cannot watch {path} ({exc.strerror or exc}); restart to pick it up")
        self.changes.folder(path)

    def stop(self) -> None:
        for obs in self._observers:
            obs.stop()
        for obs in self._observers:
            obs.join(timeout=2)
        self._observers.clear()
