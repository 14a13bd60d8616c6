"""The persistent index: a tally and every file's read position, so a warm start reads only
what was appended since. SQLite (WAL) in agentwatch's cache dir; never a source of truth that
cannot be rebuilt from the logs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from agentwatch.core import tally_state
from agentwatch.core.accounts import Call
from agentwatch.core.pricing import PriceLookup
from agentwatch.core.tally import Tally
from agentwatch.infra import gcpause
from agentwatch.infra.files import ActivityEntry, Root, ScanStats, TrackedFile
from agentwatch.sources.base import digest

SCHEMA = 14
CALLS_CHUNK = 4096
"""Calls per separately encoded piece: loading decodes one piece at a time."""
LAZY = ("calls", "activity")
"""The big parts of the state, in tables of their own (calls by piece, activity by session),
read only when needed."""
_ENC = msgspec.msgpack.Encoder()
_T = TypeVar("_T")
_DEC = msgspec.msgpack.Decoder()
_PIECE = msgspec.msgpack.Decoder(tally_state.CallPiece)
_SELECT_CALLS = "SELECT data FROM calls ORDER BY piece"
_SELECT_ACTIVITY = "SELECT agent, session, data FROM activity ORDER BY rowid"


class IndexUnusableError(Exception):
    """The index is corrupt or unreadable; the caller rebuilds it."""


class IndexBusyError(IndexUnusableError):
    """Another process holds the index locked; read without it, and leave it alone."""


@dataclass(slots=True)
class Loaded:
    """What a warm start gets back."""

    tally: Tally
    files: dict[str, TrackedFile]
    stats: ScanStats
    rates: Any


class Index:
    """One SQLite file: msgpack blobs (meta, files, sessions, stats, ...) and two tables of
    many small rows, the calls in pieces and the activity records by session (no part is
    ever one big blob, for the memory of whoever writes or reads it)."""

    def __init__(self, folder: Path, roots: list[Root]) -> None:
        ident = "\n".join(sorted(f"{r.source.agent}={r.path}" for r in roots))
        self.path = folder / f"index-{digest(ident.encode())}.sqlite"
        self.signals_raw: bytes | None = None
        """The cached signals blob found by `load`."""
        self.generation: str | None = None
        """A token new with every saved state: cached signals name the state they were
        computed from, so a report that raced another process's save never reuses them."""
        self._reader: sqlite3.Connection | None = None
        self._lazy: set[str] = set()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS calls (piece INTEGER PRIMARY KEY, data BLOB NOT NULL)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS activity"
            " (agent TEXT NOT NULL, session TEXT NOT NULL, data BLOB NOT NULL)"
        )
        return db

    def load(self, fingerprint: Any, roots: list[Root], price: PriceLookup) -> Loaded | None:
        """The saved state, or None when there is none or it was made under other settings.

        Raises IndexUnusableError when the file is corrupt or locked.
        """
        if not self.path.exists():
            return None
        sources = {str(r.source.agent): r.source for r in roots}
        try:
            db = self._connect()
            try:
                # One read snapshot: the big parts (calls, activity) are fetched from it only
                # when needed, and a warm start with nothing new never reads them at all.
                db.execute("BEGIN")
                rows = _joined(db.execute("SELECT name, data FROM blobs"))
            except BaseException:
                db.close()
                raise
            meta = rows.get("meta")  # (absent after a save that failed: nothing to load)
            if meta is None or _DEC.decode(meta) != fingerprint:
                db.close()
                return None
            self.release()
            self._reader, self._lazy = db, set(LAZY)
            tally = Tally(price)
            tally_state.load_sessions(tally, _DEC.decode(rows["sessions"]))
            tally.total_from_threads()  # (summed when first needed: a live call, a headline)
            tally.defer_calls(self._load_calls)
            files: dict[str, TrackedFile] = {}
            for v in _DEC.decode(rows["files"]):
                f = TrackedFile.load(v)
                if f is not None and str(f.source.agent) in sources:
                    files[f.path] = f
            stats = ScanStats.load(_DEC.decode(rows["stats"]))
            stats.activity_raw = self._load_activity
            stats.on_damage = self._damaged_activity
            self.signals_raw = rows.get("signals")
            gen = rows.get("gen")
            self.generation = _DEC.decode(gen) if gen is not None else None
            stats.skipped_files.clear()  # unreadable files are tried again on every start
            return Loaded(tally, files, stats, _DEC.decode(rows["rates"]))
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise IndexBusyError(f"{self.path}: {exc}") from exc
            raise IndexUnusableError(f"{self.path}: {exc}") from exc
        except (
            sqlite3.Error,
            msgspec.DecodeError,
            KeyError,
            IndexError,
            TypeError,
            ValueError,
        ) as exc:
            raise IndexUnusableError(f"{self.path}: {exc}") from exc

    def save(
        self,
        fingerprint: Any,
        tally: Tally,
        files: dict[str, TrackedFile],
        stats: ScanStats,
        rates: Any,
    ) -> None:
        """Replace the saved state in one transaction. Raises IndexUnusableError.

        Each part is encoded just before it is written, so only one is in memory at a time
        (the long lists, sessions and files, a row's worth at a time).
        """
        generation = os.urandom(8).hex()
        parts: list[Callable[[], Iterable[tuple[str, bytes | memoryview]]]] = [
            lambda: _split("meta", _ENC.encode(fingerprint)),
            lambda: _split("gen", _ENC.encode(generation)),
            lambda: _list_rows("sessions", tally.sessions.values(), tally_state.dump_session),
            lambda: _list_rows("files", files.values(), TrackedFile.dump),
            lambda: _split("stats", _ENC.encode(stats.dump())),
            lambda: _split("rates", _ENC.encode(rates)),
        ]
        try:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                # Everything goes, the cached loop signals too: they belong to the old state.
                for table in ("blobs", *LAZY):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
                for rows in parts:
                    db.executemany("INSERT INTO blobs VALUES (?, ?)", rows())
                db.executemany(
                    "INSERT INTO calls VALUES (?, ?)",
                    enumerate(_encoded_pieces(tally.calls.values())),
                )
                db.executemany("INSERT INTO activity VALUES (?, ?, ?)", stats.encode_activity())
                db.execute("COMMIT")
                self.generation = generation
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")  # nothing of a save that failed half-way
                raise
            finally:
                db.close()
        except UnicodeEncodeError as exc:  # read every time instead of indexed
            raise IndexUnusableError(f"{self.path}: a log's name is not valid UTF-8") from exc
        except (msgspec.EncodeError, OverflowError) as exc:
            raise IndexUnusableError(f"{self.path}: cannot store {exc}") from exc
        except sqlite3.Error as exc:
            raise IndexUnusableError(f"{self.path}: {exc}") from exc

    def save_signals(self, blob: bytes) -> None:
        """Keep the report's loop signals (recomputed only when the logs change)."""
        try:
            db = self._connect()
            try:
                db.execute("INSERT OR REPLACE INTO blobs VALUES ('signals', ?)", (blob,))
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise IndexUnusableError(f"{self.path}: {exc}") from exc

    def _load_calls(self) -> dict[tuple[str, ...], Any]:
        """The calls, read when first needed. A damaged part removes the index (the next start
        rebuilds it) and raises IndexUnusableError."""
        try:
            pieces: list[bytes] = [d for (d,) in self._fetch("calls", _SELECT_CALLS)]
            with gcpause.paused():  # ~80,000 calls a gigabyte: no cycle hunting meanwhile
                return load_call_pieces(pieces)
        except (msgspec.DecodeError, TypeError, ValueError, IndexError, KeyError) as exc:
            self.release()
            self.remove()
            raise IndexUnusableError(f"{self.path}: damaged calls ({exc}); removed it") from exc

    def _load_activity(self) -> list[ActivityEntry]:
        """The activity records by session, still encoded (see `ScanStats`)."""
        rows = self._fetch("activity", _SELECT_ACTIVITY)
        for agent, session, data in rows:
            if not (isinstance(agent, str) and isinstance(session, str) and type(data) is bytes):
                raise self._damaged_activity(TypeError("a row is not (text, text, bytes)"))
        return rows

    def _damaged_activity(self, exc: Exception) -> IndexUnusableError:
        """Activity rows that cannot be read: the index is removed (the next start rebuilds
        it) and the error to raise says so."""
        self.release()
        self.remove()
        return IndexUnusableError(f"{self.path}: damaged activity ({exc}); removed it")

    def _fetch(self, name: str, query: str) -> list[Any]:
        """The rows of a big part of the loaded state, from the same snapshot; the snapshot
        ends once every part was fetched."""
        db = self._reader
        if db is None or name not in self._lazy:
            raise IndexUnusableError(f"{self.path}: {name} is no longer available")
        try:
            rows = db.execute(query).fetchall()
        except sqlite3.Error as exc:
            raise IndexUnusableError(f"{self.path}: {exc}") from exc
        self._lazy.discard(name)
        if not self._lazy:
            self.release()
        return rows

    def release(self) -> None:
        """End the read snapshot `load` keeps for the parts not fetched yet."""
        db, self._reader = self._reader, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def remove(self) -> None:
        """Delete the index (to rebuild it)."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(str(self.path) + suffix).unlink()


BLOB_PART = 512 * 1024
"""A bigger blob is stored in parts (`name#0`, `name#1`, ...): SQLite copies the value it
is given and builds its record beside it, so a saving process holds a few parts' worth."""


def _split(name: str, data: bytes | bytearray) -> Iterator[tuple[str, bytes | memoryview]]:
    if len(data) <= BLOB_PART:
        yield name, bytes(data)
        return
    view = memoryview(data)
    for i, at in enumerate(range(0, len(data), BLOB_PART)):
        yield f"{name}#{i}", view[at : at + BLOB_PART]


def _joined(rows: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
    """Blobs by name, the parts of a split one joined in order. Raises ValueError for a
    part with no number."""
    out: dict[str, bytes] = {}
    split: dict[str, list[tuple[int, bytes]]] = {}
    for name, data in rows:
        base, mark, n = name.partition("#")
        if mark:
            split.setdefault(base, []).append((int(n), data))
        else:
            out[name] = data
    for base in list(split):  # (each one's parts dropped once joined)
        parts = sorted(split.pop(base))
        out[base] = b"".join(d for _, d in parts)
    return out


def _list_rows(
    name: str, items: Collection[_T], dump: Callable[[_T], Any]
) -> Iterator[tuple[str, bytes]]:
    """`[dump(x) for x in items]` as one msgpack array in numbered rows (`_split`'s), each
    item encoded in turn: neither the plain form of every item nor the whole text is ever
    in memory at once."""
    buf = bytearray(b"\xdd" + len(items).to_bytes(4, "big"))  # (array 32)
    n = 0
    for x in items:
        _ENC.encode_into(dump(x), buf, -1)
        if len(buf) >= BLOB_PART:
            yield f"{name}#{n}", bytes(buf)
            buf, n = bytearray(), n + 1
    yield f"{name}#{n}", bytes(buf)


def _encoded_pieces(calls: Iterable[Call]) -> Iterator[bytes]:
    rows = list(calls)
    for i in range(0, len(rows), CALLS_CHUNK):
        yield _ENC.encode(tally_state.dump_call_rows(rows[i : i + CALLS_CHUNK]))


def call_pieces(calls: Iterable[Call]) -> list[bytes]:
    """Calls encoded `CALLS_CHUNK` at a time (see `load_call_pieces`)."""
    return list(_encoded_pieces(calls))


def load_call_pieces(pieces: list[bytes]) -> dict[tuple[str, ...], Call]:
    """The calls of `call_pieces`. Each piece is decoded only when the one before it was
    loaded, and `pieces` is emptied as it goes, so the encoded and the decoded form of all
    the calls are never in memory together. Raises msgspec.DecodeError for damage."""

    def decoded() -> Iterator[tally_state.CallPiece]:
        while pieces:
            yield _PIECE.decode(pieces.pop(0))

    return tally_state.load_calls(decoded())
