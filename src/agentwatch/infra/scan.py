"""One-shot scan: read every file the sources claim under their roots into a tally."""

from __future__ import annotations

from collections.abc import Callable

from agentwatch.core.tally import Tally
from agentwatch.infra.applog import LOG
from agentwatch.infra.files import Root, ScanStats, TrackedFile, discover
from agentwatch.sources.base import FileRole

__all__ = ["Progress", "Root", "ScanStats", "scan", "scan_files"]

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


def scan(roots: list[Root], tally: Tally, progress: Progress | None = None) -> ScanStats:
    """Read everything once; unterminated last lines count as skipped."""
    stats = ScanStats()
    for f in scan_files(roots, tally, stats, progress).values():
        f.finish(stats)
    return stats
