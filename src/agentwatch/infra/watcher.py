"""The watchdog bridge: one recursive watch per root; events only say "this path changed"."""

from __future__ import annotations

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
        self._observers: list[BaseObserver] = []

    def start(self) -> None:
        """Start watching. Emitters start inside `schedule` once the observer runs, so a
        refused inotify instance or watch surfaces here, per root."""
        native = self._native()
        native.daemon = True
        native.start()
        self._observers.append(native)
        polling: BaseObserver | None = None
        for root in self.roots:
            base = root.base
            if not base.is_dir():
                continue
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

    def stop(self) -> None:
        for obs in self._observers:
            obs.stop()
        for obs in self._observers:
            obs.join(timeout=2)
        self._observers.clear()
