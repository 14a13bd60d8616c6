"""One-shot scan: find every file the sources claim under their roots and feed the tally."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agentwatch.core.tally import Tally
from agentwatch.infra.applog import LOG
from agentwatch.infra.reader import FileCursor
from agentwatch.sources.base import FileRole, FileSpec, Source

MAX_SIDECAR = 1_000_000


@dataclass(frozen=True, slots=True)
class Root:
    """A root folder of one source."""

    source: Source
    """The source that owns it."""
    path: Path
    """The root (e.g. `~/.claude`)."""


@dataclass(slots=True)
class ScanStats:
    """What a scan read and skipped."""

    files: int = 0
    """Files read."""
    bytes: int = 0
    """Bytes of complete lines read."""
    lines: int = 0
    """Lines read."""
    skipped_lines: Counter[str] = field(default_factory=Counter)
    """Lines skipped, by reason."""
    skipped_files: dict[str, str] = field(default_factory=dict)
    """Files that could not be read, with the reason."""
    coerced_fields: int = 0
    """Usage fields read as 0 because they were missing, null or mistyped."""

    @property
    def lines_skipped(self) -> int:
        """All skipped lines."""
        return sum(self.skipped_lines.values())


Progress = Callable[[int, int, int], None]
"""Called with (files done, files total, bytes done)."""


def discover(root: Root) -> Iterator[tuple[str, FileSpec]]:
    """Files under a root that its source claims, in a stable order."""
    base = root.source.transcript_dir(root.path)
    depth = root.source.max_depth()
    stack: list[tuple[str, tuple[str, ...]]] = [(str(base), ())]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            if rel:
                LOG.warning("cannot list %s: %s", folder, exc)
            continue
        for entry in entries:
            parts = (*rel, entry.name)
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            spec = root.source.classify(parts)
            if spec is not None:
                yield entry.path, spec
            elif is_dir and len(parts) < depth:
                stack.append((entry.path, parts))


def scan(
    roots: list[Root],
    tally: Tally,
    progress: Progress | None = None,
) -> ScanStats:
    """Read every claimed file once, to the end, and apply its records to `tally`."""
    stats = ScanStats()
    files = [(root, path, spec) for root in roots for path, spec in discover(root)]
    # Sidecars last, so they can name agents whose transcripts were already read.
    files.sort(key=lambda f: f[2].role is FileRole.META)
    for i, (root, path, spec) in enumerate(files):
        read_file(root.source, path, spec, tally, stats)
        if progress is not None:
            progress(i + 1, len(files), stats.bytes)
    return stats


def read_file(source: Source, path: str, spec: FileSpec, tally: Tally, stats: ScanStats) -> None:
    """Read one file to its end (a one-shot read: an unterminated last line is skipped)."""
    try:
        if spec.role is FileRole.META:
            with open(path, "rb") as fh:
                data = fh.read(MAX_SIDECAR)
            tally.apply(source.parse_whole(path, spec, data))
            stats.files += 1
            return
        parser = source.parser(path, spec)
        cursor = FileCursor(path)
        for lines in cursor.read_lines():
            stats.bytes += sum(map(len, lines)) + len(lines)
            tally.apply(parser.feed(lines))
    except IsADirectoryError:
        stats.skipped_files[path] = "is a directory"
        return
    except OSError as exc:
        stats.skipped_files[path] = exc.strerror or type(exc).__name__
        LOG.warning("skipped %s: %s", path, exc)
        return
    stats.files += 1
    ps = parser.stats
    stats.lines += ps.lines
    stats.skipped_lines.update(ps.skipped)
    stats.coerced_fields += ps.coerced
    if cursor.pending:
        stats.skipped_lines["unterminated last line"] += 1
    for line_no, reason in ps.bad_lines:
        LOG.info("%s:%d: skipped (%s)", path, line_no, reason)
