"""Per-file reading state: a cursor, a parser, and what was skipped; shared by scan and live."""

from __future__ import annotations

import builtins
import dataclasses
import os
import zlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from agentwatch.core.records import (
    ActivityRecord,
    Agent,
    HumanTurn,
    Record,
    ThreadKey,
    ToolCall,
    ToolResult,
)
from agentwatch.infra.applog import LOG
from agentwatch.infra.reader import FileCursor
from agentwatch.sources.base import FileRole, FileSpec, LineParser, Source
from agentwatch.sources.registry import by_agent

MAX_SIDECAR = 1_000_000
MAX_DOCUMENT = 512 * 1024 * 1024
"""A whole-file log larger than this is cut there (and then cannot parse)."""
MAX_CONTEXT = 64 * 1024
ACTIVITY = msgspec.msgpack.Decoder(list[ActivityRecord])
"""Decodes a persisted list of activity records (they are tagged structs)."""
ActivityEntry = tuple[str, str, builtins.bytes]
"""One session's activity records, encoded: (agent, session id, the msgpack of the records,
compressed: they repeat their thread, tool names and paths, and shrink about four times)."""
_Chunk = builtins.bytes | list[ActivityRecord]


@dataclass(frozen=True, slots=True)
class Root:
    """A root folder of one source."""

    source: Source
    """The source that owns it."""
    path: Path
    """The root (e.g. `~/.claude`)."""

    @property
    def base(self) -> Path:
        """The folder under the root that holds the logs."""
        return self.source.transcript_dir(self.path)

    @property
    def top_dirs(self) -> tuple[str, ...] | None:
        """First-level folders under `base` that can hold logs (None: any). A source that
        lives in a busy home (Codex's `~/.codex`) names them, so nothing else is walked or
        watched."""
        value = getattr(self.source, "top_dirs", None)
        return tuple(value) if value is not None else None

    def watch_paths(self) -> list[Path]:
        """The folders to watch recursively."""
        top = self.top_dirs
        if top is None:
            return [self.base] if self.base.is_dir() else []
        return [self.base / d for d in top if (self.base / d).is_dir()]

    def spec_of(self, path: str) -> FileSpec | None:
        """What a path under this root is, or None when the source does not claim it."""
        try:
            rel = Path(path).relative_to(self.base).parts
        except ValueError:
            return None
        return self.source.classify(rel) if rel else None


@dataclass(slots=True)
class ScanStats:
    """What was read and skipped."""

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
    activity_raw: list[ActivityEntry] | Callable[[], list[ActivityEntry]] | None = None
    """Activity persisted in the index (or how to fetch it), decoded only when needed."""
    on_damage: Callable[[Exception], Exception] | None = None
    """Given the error of persisted records that do not decode, the error to raise instead
    (the index removes itself, so that the next start rebuilds it)."""
    keep_activity: bool = True
    """False once the records live elsewhere (the live engine's model): reads stop keeping
    them here."""
    _activity: list[ActivityRecord] = field(default_factory=list)
    _entries: list[ActivityEntry] = field(default_factory=list)

    # Activity records come from three places, in reading order: the index (`activity_raw`),
    # this process (`_activity`) and scan workers (`_entries`). Encoded ones stay encoded, by
    # session, until a session is wanted: the detectors take one session at a time.

    def add_activity(self, records: Iterable[Record]) -> None:
        """Keep the activity records among `records`."""
        if self.keep_activity:
            self._activity.extend(r for r in records if isinstance(r, _ACTIVITY_TYPES))

    def add_entries(self, entries: list[ActivityEntry]) -> None:
        """Keep another process's records (its `encode_activity`), still encoded."""
        self._entries.extend(entries)

    @property
    def activity(self) -> list[ActivityRecord]:
        """Every tool call, result and human turn read (each session's in reading order)."""
        return [r for _, records in self.activity_by_session() for r in records]

    @activity.setter
    def activity(self, value: list[ActivityRecord]) -> None:
        self._activity, self._entries, self.activity_raw = value, [], None

    def each_activity(self) -> Iterator[ActivityRecord]:
        """`activity` one session at a time, without a list of all of them."""
        for _, records in self.activity_by_session():
            yield from records

    def activity_by_session(
        self, only: Container[ThreadKey] | None = None
    ) -> Iterator[tuple[ThreadKey, list[ActivityRecord]]]:
        """Each session (main thread) once, or each of `only`, with its records in reading
        order; encoded records are decoded one session at a time."""
        for key, chunks in self._chunks().items():
            if only is None or key in only:
                yield key, self._join(chunks)

    def encode_activity(self) -> list[ActivityEntry]:
        """Every record, encoded by session (for the index, and from scan workers); the
        records are kept in that form from then on. A session already held in one encoded
        piece is passed on as it is."""
        out: list[ActivityEntry] = []
        for key, chunks in self._chunks().items():
            only = chunks[0] if len(chunks) == 1 else None
            blob = only if isinstance(only, builtins.bytes) else _encode(self._join(chunks))
            out.append((str(key.agent), key.session_id, blob))
        self._activity, self._entries, self.activity_raw = [], [], out
        return out

    def _chunks(self) -> dict[ThreadKey, list[_Chunk]]:
        if callable(self.activity_raw):
            self.activity_raw = self.activity_raw()  # fetched once
        out: dict[ThreadKey, list[_Chunk]] = {}
        keys: dict[tuple[str, str], ThreadKey] = {}

        def add(entries: list[ActivityEntry]) -> None:
            for agent, session, blob in entries:
                key = keys.get((agent, session))
                if key is None:
                    try:
                        kind = Agent(agent)
                    except ValueError as exc:
                        raise self._damaged(exc) from exc
                    key = keys[agent, session] = ThreadKey(kind, session)
                out.setdefault(key, []).append(blob)

        add(self.activity_raw or [])
        own: dict[ThreadKey, list[ActivityRecord]] = {}
        for r in self._activity:
            own.setdefault(r.thread.main, []).append(r)
        for key, records in own.items():
            out.setdefault(key, []).append(records)
        add(self._entries)
        return out

    def _join(self, chunks: list[_Chunk]) -> list[ActivityRecord]:
        try:
            return _join(chunks)
        except (msgspec.DecodeError, ValueError, TypeError, zlib.error) as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> Exception:
        return exc if self.on_damage is None else self.on_damage(exc)

    @property
    def lines_skipped(self) -> int:
        """All skipped lines."""
        return sum(self.skipped_lines.values())

    def dump(self) -> list[Any]:
        """Plain data for the index and worker processes."""
        return [
            self.files,
            self.bytes,
            self.lines,
            dict(self.skipped_lines),
            self.coerced_fields,
            self.skipped_files,
        ]

    @classmethod
    def load(cls, v: list[Any]) -> ScanStats:
        """Back from `dump`."""
        return cls(v[0], v[1], v[2], Counter(v[3]), dict(v[5]), v[4])

    def merge(self, other: ScanStats) -> None:
        """Add another scan's figures."""
        self.files += other.files
        self.bytes += other.bytes
        self.lines += other.lines
        self.skipped_lines.update(other.skipped_lines)
        self.skipped_files.update(other.skipped_files)
        self.coerced_fields += other.coerced_fields
        if other._activity or other._entries or other.activity_raw is not None:
            self.add_entries(other.encode_activity())


_ACTIVITY_TYPES = (ToolCall, ToolResult, HumanTurn)
_MSGPACK = msgspec.msgpack.Encoder().encode


def _encode(records: list[ActivityRecord]) -> builtins.bytes:
    return zlib.compress(_MSGPACK(records), 1)  # (level 1: nearly all the gain, fast)


def _join(chunks: list[_Chunk]) -> list[ActivityRecord]:
    if len(chunks) == 1 and isinstance(chunks[0], list):
        return chunks[0]
    out: list[ActivityRecord] = []
    for c in chunks:
        out.extend(ACTIVITY.decode(_inflate(c)) if isinstance(c, builtins.bytes) else c)
    return out


def _inflate(blob: builtins.bytes) -> builtins.bytes:
    """`_encode`'s records back; raises zlib.error for a blob that is cut short or has
    anything after its end."""
    d = zlib.decompressobj()
    out = d.decompress(blob)
    if not d.eof or d.unused_data:
        raise zlib.error("damaged activity records")
    return out


def discover(root: Root, start: Path | None = None) -> Iterator[tuple[str, FileSpec]]:
    """Files under a root (or one of its sub-folders) that its source claims, in a stable order."""
    base = root.base
    start = start or base
    try:
        prefix = start.relative_to(base).parts
    except ValueError:
        return
    depth = root.source.max_depth()
    top = root.top_dirs
    stack: list[tuple[str, tuple[str, ...]]] = [(str(start), prefix)]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            if rel:
                LOG.warning("cannot list %s: %s", folder, exc)
            continue
        names: set[str] | None = None
        for entry in entries:
            parts = (*rel, entry.name)
            spec = root.source.classify(parts)
            if spec is not None:
                if spec.replaced_by is not None:
                    names = names if names is not None else {e.name for e in entries}
                    if spec.replaced_by in names:
                        continue  # superseded by its sibling, which is read instead
                yield entry.path, spec
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir and _descend(parts, depth, top):
                stack.append((entry.path, parts))


def _descend(parts: tuple[str, ...], depth: int, top: tuple[str, ...] | None) -> bool:
    """Can the folder at `parts` (under a root's base) hold claimed files deeper down?"""
    return len(parts) < depth and (top is None or len(parts) > 1 or parts[0] in top)


def folders(root: Root) -> Iterator[str]:
    """Every folder `discover` lists under a root (what a new file would change), and every
    link where one could be."""
    depth = root.source.max_depth()
    top = root.top_dirs
    stack: list[tuple[str, tuple[str, ...]]] = [(str(root.base), ())]
    while stack:
        folder, rel = stack.pop()
        yield folder
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    parts = (*rel, entry.name)
                    try:
                        if not _descend(parts, depth, top):
                            continue
                        if entry.is_dir():
                            stack.append((entry.path, parts))
                        elif entry.is_symlink():
                            yield entry.path  # a link to nowhere (yet): its target may appear
                    except OSError:
                        continue
        except OSError:
            continue


def predecessor(files: Mapping[str, TrackedFile], path: str) -> Any:
    """The parser state of the tracked file that `path` supersedes (its sibling whose spec is
    `replaced_by` this name), or None."""
    folder, name = os.path.split(path)
    for f in files.values():
        if f.spec.replaced_by == name and os.path.dirname(f.path) == folder:
            return f.parser.state() if f.parser is not None else f.saved
    return None


def _state(saved: Any) -> Any:
    """A parser state, decoded if it was kept encoded (see `TrackedFile.saved`)."""
    return msgspec.msgpack.decode(saved) if isinstance(saved, builtins.bytes) else saved


@dataclass(slots=True)
class TrackedFile:
    """A file being read: where it is, what it is, and how far it has been read."""

    source: Source
    path: str
    spec: FileSpec
    cursor: FileCursor
    parser: LineParser | None = None
    sidecar_mtime: int = -1
    saved: builtins.bytes | None = None
    """Parser state from the index, encoded (most files never change, and a gigabyte of
    history has thousands of files): decoded and restored on the first read."""
    inherited: Any = None
    """The state of the file this one supersedes (a legacy chat continued in a new file): its
    parser starts knowing what was already seen, so nothing is counted twice."""

    @classmethod
    def new(cls, source: Source, path: str, spec: FileSpec) -> TrackedFile:
        """A file not read yet."""
        return cls(source, path, spec, FileCursor(path))

    def dump(self) -> list[Any]:
        """Plain data: where reading stopped and the parser's state."""
        c = self.cursor
        return [
            self.path,
            str(self.source.agent),
            str(self.spec.role),
            self.spec.session_id,
            self.spec.agent_id,
            c.offset,
            c.dev,
            c.ino,
            c.pending,
            c.resets,
            c.tail,
            c.size,
            c.mtime_ns,
            self.sidecar_mtime,
            _MSGPACK(self.parser.state()) if self.parser is not None else self.saved,
            self.spec.whole,
            self.spec.replaced_by,
        ]

    @classmethod
    def load(cls, v: list[Any]) -> TrackedFile | None:
        """Back from `dump`; None for a source this build does not know."""
        source = by_agent(v[1])
        if source is None:
            return None
        spec = FileSpec(
            FileRole(v[2]), v[3], v[4], whole=v[15], replaced_by=v[16] if len(v) > 16 else None
        )
        cursor = FileCursor(v[0], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12])
        return cls(source, v[0], spec, cursor, None, v[13], v[14])

    def unchanged(self, st: os.stat_result) -> bool:
        """True when a stat shows the file as it was at its last read (a sidecar: its mtime)."""
        if self.spec.role is FileRole.META:
            return st.st_mtime_ns == self.sidecar_mtime
        return self.cursor.unchanged(st)

    def read(self, stats: ScanStats) -> list[Record]:
        """Records from the bytes appended since the last read. Raises OSError."""
        if self.spec.role is FileRole.META:
            return self._sidecar(stats)
        if self.parser is None:
            if self.saved is not None:
                self.parser = self.source.parser(self.path, self.spec)
                try:
                    self.parser.restore(_state(self.saved))
                except Exception:  # noqa: BLE001 (a damaged index: read this file again)
                    LOG.warning("%s: saved parser state unusable; reading it again", self.path)
                    self.parser = self._new_parser()
                    self.cursor = FileCursor(self.path)  # dedup absorbs what is read twice
                self.saved = None
            else:
                self.parser = self._new_parser()
                inherit = getattr(self.parser, "inherit", None)
                if self.inherited is not None and inherit is not None:
                    try:
                        inherit(_state(self.inherited))
                    except Exception:  # noqa: BLE001 (a damaged state: start fresh)
                        LOG.warning("%s: predecessor's state unusable", self.path)
                self.inherited = None
        ps = self.parser.stats
        skipped, coerced, lines = Counter(ps.skipped), ps.coerced, ps.lines
        out: list[Record] = []
        if self.spec.whole:
            data = self.cursor.read_whole(MAX_DOCUMENT)
            if data is not None:
                stats.bytes += len(data)
                out = self.parser.feed([data])
                if ps.unreadable:
                    LOG.info("%s: not read this time (%s)", self.path, ps.unreadable)
        else:
            for batch in self.cursor.read_lines(on_reset=self._reset):
                stats.bytes += sum(map(len, batch)) + len(batch)
                out.extend(self.parser.feed(batch))
        stats.add_activity(out)
        ps = self.parser.stats  # a reset replaced the parser
        stats.lines += max(0, ps.lines - lines)
        stats.coerced_fields += max(0, ps.coerced - coerced)
        stats.skipped_lines.update(ps.skipped - skipped)
        for line_no, reason in ps.bad_lines:
            LOG.info("%s:%d: skipped (%s)", self.path, line_no, reason)
        ps.bad_lines.clear()
        return out

    def finish(self, stats: ScanStats) -> None:
        """One-shot reads end here: an unterminated last line will not be completed, and a
        whole document that did not parse (half-written, perhaps) will not be retried."""
        if self.cursor.pending:
            stats.skipped_lines["unterminated last line"] += 1
        if self.parser is not None and self.parser.stats.unreadable:
            stats.skipped_files[self.path] = self.parser.stats.unreadable

    def _new_parser(self) -> LineParser:
        """A parser for the file, given the text of the context file its source asks for."""
        spec = self.spec
        find = getattr(self.source, "context_file", None)
        ctx = find(self.path) if find is not None else None
        if ctx:
            try:
                with open(ctx, "rb") as fh:
                    text = fh.read(MAX_CONTEXT).decode("utf-8", "replace")
            except OSError:
                text = ""
            spec = dataclasses.replace(spec, context=text or None)
        return self.source.parser(self.path, spec)

    def _reset(self) -> None:
        # The file shrank or was replaced: parse it again from scratch (dedup absorbs repeats).
        self.parser = self._new_parser()

    def _sidecar(self, stats: ScanStats) -> list[Record]:
        st = os.stat(self.path)
        if st.st_mtime_ns == self.sidecar_mtime:
            return []
        self.sidecar_mtime = st.st_mtime_ns
        with open(self.path, "rb") as fh:
            data = fh.read(MAX_SIDECAR)
        stats.bytes += len(data)
        return self.source.parse_whole(self.path, self.spec, data)
