"""What every source module provides, and helpers its parsers share."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from agentwatch.core.records import Record


class FileRole(StrEnum):
    """How a source treats a file under its roots."""

    MAIN = "main"
    SUBAGENT = "subagent"
    SIBLING_AGENT = "sibling-agent"
    META = "meta"


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file a source claims, and what its path says about it."""

    role: FileRole
    """What the file is."""
    session_id: str | None
    """The session the path names, if it names one."""
    agent_id: str | None = None
    """The sub-agent the path names, if it names one."""
    whole: bool = False
    """The file is one document rewritten in place (Gemini's legacy `session-*.json`): it is
    read whole on every change, never tailed; its parser gets the document as one item."""
    replaced_by: str | None = None
    """A sibling file name that, once it exists, carries this file's content on (a legacy
    Gemini session resumed as `.jsonl`): the file is then no longer read."""
    context: str | None = None
    """The text of the small file the source's `context_file` names (Gemini's
    `.project_root`), read by infra before the parser is made; None when there is none."""


@dataclass(slots=True)
class ParseStats:
    """What a parser read and what it had to skip."""

    lines: int = 0
    """Complete lines seen."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Skipped lines by reason."""
    coerced: int = 0
    """Fields that were missing, null or mistyped and read as 0."""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    """The first few skipped lines: (line number, reason), for the log."""
    unreadable: str | None = None
    """Why the last whole document (`FileSpec.whole`) could not be parsed, perhaps because it
    was caught half-written; None once it parses. The parser keeps its previous state."""

    def skip(self, line_no: int, reason: str) -> None:
        """Count a skipped line."""
        self.skipped[reason] += 1
        if len(self.bad_lines) < 20:
            self.bad_lines.append((line_no, reason))

    @property
    def skipped_lines(self) -> int:
        """All skipped lines."""
        return sum(self.skipped.values())


class LineParser(Protocol):
    """Turns the complete lines of one file into records; keeps per-file state between calls."""

    stats: ParseStats

    def feed(self, lines: Iterable[bytes]) -> list[Record]:
        """Parse complete lines (without their newline) that follow the ones fed before.

        For a `FileSpec.whole` file each call gets the whole current document as one item,
        and returns what changed since the last document it parsed.
        """
        ...

    def state(self) -> dict[str, Any]:
        """Plain data from which `restore` continues parsing after a restart."""
        ...

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()`."""
        ...


T = TypeVar("T")
_ANY_JSON = msgspec.json.Decoder()


def decode_line(
    raw: bytes,
    typed: msgspec.json.Decoder[T],
    line_type: type[T],
    stats: ParseStats,
    salvage: Callable[[dict[str, Any]], None],
) -> T | None:
    """One JSONL line through a typed decoder; never raises.

    Garbage is skipped and counted. A valid object whose nested fields have the wrong shape is
    decoded generically, handed to `salvage` to null out what cannot be read, and converted
    leniently, so one bad field does not lose the rest of the line.
    """
    n = stats.lines
    if not raw.strip():
        stats.skip(n, "empty line")
        return None
    try:
        return typed.decode(raw)
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, ValueError, RecursionError):  # nested past the decoder's depth
        stats.skip(n, "malformed JSON")
        return None
    try:
        obj = _ANY_JSON.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        stats.skip(n, "malformed JSON")
        return None
    if not isinstance(obj, dict):
        stats.skip(n, "not a JSON object")
        return None
    salvage(obj)
    try:
        return msgspec.convert(obj, line_type, strict=False)
    except msgspec.ValidationError:
        stats.skip(n, "unexpected shape")
        return None


def parse_ts(value: Any) -> float | None:
    """ISO 8601 text to epoch seconds (naive times are UTC); None when absent or malformed."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


MAX_COUNT = 10**12
"""No API call uses a trillion tokens: a bigger count is damage (and would overflow the index)."""


def count(value: Any) -> tuple[int, bool]:
    """A token count from a log field: `(value, coerced)`.

    Anything but a non-negative int up to `MAX_COUNT` (null, strings, floats, negatives, absurd
    sizes) reads as 0 and is flagged (FORMATS section 6); an absent field is 0 and not flagged.
    """
    if type(value) is int:
        return (value, False) if 0 <= value <= MAX_COUNT else (0, True)
    if value is msgspec.UNSET:
        return 0, False
    return 0, True


def digest(data: bytes) -> str:
    """A short, stable hash of a result, to spot identical results."""
    return hashlib.blake2b(data, digest_size=6).hexdigest()


class Source(Protocol):
    """A pluggable agent source: path rules and parsers, no I/O of its own.

    Optional members, looked up by infra when present: `top_dirs` (the only first-level folders
    to walk and watch) and `context_file(path) -> str | None` (a small file whose text infra
    reads into `FileSpec.context` before making a parser for `path`).
    """

    @property
    def agent(self) -> Any:
        """The `Agent` it reads."""
        ...

    @property
    def parser_version(self) -> int:
        """Bumped when its parser changes what it counts (persistent indexes are rebuilt)."""
        ...

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Roots to scan when none is given on the command line."""
        ...

    def transcript_dir(self, root: Path) -> Path:
        """The folder under a root where its logs live."""
        ...

    def classify(self, rel: tuple[str, ...]) -> FileSpec | None:
        """What a file is, from its path parts below `transcript_dir`; None to ignore it."""
        ...

    def max_depth(self) -> int:
        """How many path parts below `transcript_dir` its files can have."""
        ...

    def parser(self, path: str, spec: FileSpec) -> LineParser:
        """A fresh parser for one JSONL file."""
        ...

    def parse_whole(self, path: str, spec: FileSpec, data: bytes) -> list[Record]:
        """Records from a whole-file document (a sidecar); [] when unusable."""
        ...


def no_sidecars(path: str, spec: FileSpec, data: bytes) -> list[Record]:  # noqa: ARG001
    """`parse_whole` of a source without sidecar documents."""
    return []


@dataclass(frozen=True, slots=True)
class SourceAdapter:
    """A `Source` made of one module's functions: what each agent's module exports as
    `SOURCE` (the module holds the rules; this only gathers them)."""

    agent: Any
    """The `Agent` it reads."""
    parser_version: int
    """See `Source.parser_version`."""
    default_roots: Callable[[Mapping[str, str], Path], list[Path]]
    """See `Source.default_roots`."""
    transcript_dir: Callable[[Path], Path]
    """See `Source.transcript_dir`."""
    classify: Callable[[tuple[str, ...]], FileSpec | None]
    """See `Source.classify`."""
    depth: int
    """See `Source.max_depth`."""
    parser: Callable[[str, FileSpec], LineParser]
    """See `Source.parser`."""
    parse_whole: Callable[[str, FileSpec, bytes], list[Record]] = no_sidecars
    """See `Source.parse_whole`."""
    top_dirs: Collection[str] | None = None
    """The only first-level folders to walk and watch (None: any)."""
    context_file: Callable[[str], str | None] | None = None
    """A small file whose text goes into `FileSpec.context` before a parser is made."""

    def max_depth(self) -> int:
        """See `Source.max_depth`."""
        return self.depth
