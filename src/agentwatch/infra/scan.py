"""One-shot scan: read every file the sources claim under their roots into a tally."""

from __future__ import annotations

import os
from collections.abc import Callable

from agentwatch.core.tally import Tally
from agentwatch.infra.applog import LOG
from agentwatch.infra.files import Root, ScanStats, TrackedFile, discover
from agentwatch.sources.base import FileRole

__all__ = ["Progress", "Root", "ScanStats", "refresh", "scan", "scan_files"]

Progress = Callable[[int, int, int], None]
"""Called with (files done, files total, bytes done)."""


def scan_files(
    roots: list[Root], tally: Tally, stats: ScanStats, progress: Progress | None = None
) -> dict[str, TrackedFile]:
    """Read every claimed file to its current end; returns the files, ready to be read again."""
    files = [TrackedFile.new(r.source, p, spec) for r in roots for p, spec in discover(r)]
    # Sidecars last, so they can name agents whose transcripts were already read.
    files.sort(key=lambda f: f.spec.role is FileRole.META)
    tracked: dict[str, TrackedFile] = {}
    for i, f in enumerate(files):
        if f.path in tracked:
            continue
        try:
            tally.apply(f.read(stats))
        except IsADirectoryError:
            stats.skipped_files[f.path] = "is a directory"
        except OSError as exc:
            stats.skipped_files[f.path] = exc.strerror or type(exc).__name__
            LOG.warning("skipped %s: %s", f.path, exc)
        else:
            stats.files += 1
            tracked[f.path] = f
        if progress is not None:
            progress(i + 1, len(files), stats.bytes)
    return tracked


def refresh(
    roots: list[Root],
    tally: Tally,
    files: dict[str, TrackedFile],
    stats: ScanStats,
    progress: Progress | None = None,
) -> bool:
    """Bring indexed files up to date: read what was appended, pick up new files, forget
    deleted ones (their counts stay). Returns True when anything changed."""
    found = [(r, p, spec) for r in roots for p, spec in discover(r)]
    present = {p for _, p, _ in found}
    changed = False
    for path in [p for p in files if p not in present]:
        del files[path]
        changed = True
    found.sort(key=lambda x: x[2].role is FileRole.META)
    for i, (root, path, spec) in enumerate(found):
        f = files.get(path)
        if f is not None:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is not None and (
                st.st_mtime_ns == f.sidecar_mtime
                if spec.role is FileRole.META
                else f.cursor.unchanged(st)
            ):
                continue
        else:
            f = TrackedFile.new(root.source, path, spec)
        changed = True
        try:
            tally.apply(f.read(stats))
        except IsADirectoryError:
            stats.skipped_files[path] = "is a directory"
            files.pop(path, None)
        except OSError as exc:
            stats.skipped_files[path] = exc.strerror or type(exc).__name__
            files.pop(path, None)
        else:
            files[path] = f
        if progress is not None:
            progress(i + 1, len(found), stats.bytes)
    return changed


def scan(roots: list[Root], tally: Tally, progress: Progress | None = None) -> ScanStats:
    """Read everything once; unterminated last lines count as skipped."""
    stats = ScanStats()
    for f in scan_files(roots, tally, stats, progress).values():
        f.finish(stats)
    return stats
